"""Reader (and, for tests, writer) of the project's dataset file, in Python with numpy only.

The layout is the one `cli/src/data/file.rs` documents and `src/container.rs` frames:

    "DINFODAT" | version u32 LE | header length u32 LE | header (JSON)
    domains    n x u8            (0 background, 1 target)
    labels     n x L x i32 LE    (-1: none)
    factors    n x F x f32 LE    (NaN: none)
    pixels     n x C x S x S u8  (channel-major)
    masks      n x S x S u8      (version 3, when the header says `masks`)

Header (serde names of `Header` in file.rs): recipe, description, count, side, channels,
labels [{name, role: salient|common|bookkeeping, scored_on: all|target|background}],
factor_names, masks (absent before version 3). Version 1 headers have `label_names` instead of
`labels`; their roles come from the recipe (`Header::from_v1`).

Every size is checked against the file's length before anything is allocated; a file that is
not one gets one sentence (DatasetError).
"""

import json
import os
import struct

import numpy as np

MAGIC = b"DINFODAT"
VERSIONS = (1, 2, 3)
PREAMBLE = 16
MAX_HEADER = 1 << 20  # src/container.rs: MAX_HEADER
ROLES = ("salient", "common", "bookkeeping")
SCORED_ON = ("all", "target", "background")


class DatasetError(Exception):
    """A file that cannot be read as a dataset file, with the sentence saying why."""


def _v1_labels(recipe, names):
    """file.rs `Header::from_v1`: the roles version 1 files' recipes gave their labels."""
    out = []
    for name in names:
        if (recipe, name) == ("cifar-mnist", "cifar_class"):
            out.append({"name": name, "role": "common", "scored_on": "all"})
        elif (recipe, name) in (("cifar-mnist", "digit"), ("dsprites-mnist", "shape"),
                                ("celeba-accessories", "accessory")):
            out.append({"name": name, "role": "salient", "scored_on": "target"})
        elif recipe == "dsprites-mnist-groups":
            out.append({"name": name, "role": "bookkeeping", "scored_on": "all"})
        else:
            raise DatasetError(
                f"it is a version 1 dataset file whose label {name!r} cannot be interpreted: "
                "rebuild it with `dinfogan data build`")
    return out


def _check_header(h, version):
    if not isinstance(h, dict):
        raise DatasetError("its header is corrupt (not a JSON object)")
    if version == 1:
        if not isinstance(h.get("label_names"), list):
            raise DatasetError("its header is corrupt (no label_names)")
        h = dict(h)
        h["labels"] = _v1_labels(h.get("recipe"), h.pop("label_names"))
        h["masks"] = False
    for key in ("count", "side", "channels"):
        v = h.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise DatasetError(f"its header is corrupt ({key} is not a non-negative integer)")
    for key in ("recipe", "description"):
        if not isinstance(h.get(key), str):
            raise DatasetError(f"its header is corrupt ({key} is not a string)")
    labels = h.get("labels")
    if not isinstance(labels, list):
        raise DatasetError("its header is corrupt (labels is not a list)")
    for spec in labels:
        if (not isinstance(spec, dict) or set(spec) != {"name", "role", "scored_on"}
                or not isinstance(spec["name"], str) or spec["role"] not in ROLES
                or spec["scored_on"] not in SCORED_ON):
            raise DatasetError(f"its header is corrupt (a label is not {{name, role, scored_on}}: {spec!r})")
    names = h.get("factor_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DatasetError("its header is corrupt (factor_names is not a list of names)")
    masks = h.get("masks", False)
    if not isinstance(masks, bool):
        raise DatasetError("its header is corrupt (masks is not true or false)")
    h["masks"] = masks
    return h


def _preamble(f, size, path):
    start = f.read(PREAMBLE)
    if len(start) < PREAMBLE or not start.startswith(MAGIC):
        raise DatasetError(f"{path} is not a dinfogan dataset file (build one with `dinfogan data build`)")
    version, header_len = struct.unpack("<II", start[8:16])
    if version not in VERSIONS:
        raise DatasetError(f"{path} has format version {version}; this reader reads versions 1 to 3")
    if header_len > MAX_HEADER:
        raise DatasetError(f"{path} is corrupt: its header claims {header_len} bytes (at most {MAX_HEADER})")
    if PREAMBLE + header_len > size:
        raise DatasetError(f"{path} is truncated (its header is incomplete)")
    raw = f.read(header_len)
    try:
        h = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise DatasetError(f"the header of {path} is corrupt ({e})") from None
    try:
        h = _check_header(h, version)
    except DatasetError as e:
        raise DatasetError(f"{path}: {e}") from None
    return version, header_len, h


def read_header(path):
    """The header alone (a dict; version 1 headers converted), without reading the images."""
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            return _preamble(f, size, path)[2]
    except OSError as e:
        raise DatasetError(f"could not read {path} ({e.strerror})") from None


class Dataset:
    """A whole dataset file in memory: header (dict), domains (n u8), labels (n x L i32),
    factors (n x F f32), pixels (n x C x S x S u8), masks (n x S x S u8, or None)."""

    def __init__(self, path):
        path = os.fspath(path)
        self.path = path
        try:
            size = os.path.getsize(path)
            f = open(path, "rb")
        except OSError as e:
            raise DatasetError(f"could not read {path} ({e.strerror})") from None
        with f:
            self.version, header_len, h = _preamble(f, size, path)
            n, s, c = h["count"], h["side"], h["channels"]
            nl, nf = len(h["labels"]), len(h["factor_names"])
            # Python integers do not overflow: the sizes are exact, then compared with the file.
            parts = [n, 4 * n * nl, 4 * n * nf, n * c * s * s, n * s * s if h["masks"] else 0]
            needed = sum(parts)
            body = size - PREAMBLE - header_len
            if body != needed:
                raise DatasetError(
                    f"{path} is truncated or corrupt: {n} images of {c}x{s}x{s}"
                    f"{' with masks' if h['masks'] else ''} need {needed} bytes after the header, it has {body}")
            self.header = h
            self.domains = np.frombuffer(f.read(parts[0]), dtype=np.uint8)
            if self.domains.size and self.domains.max() > 1:
                raise DatasetError(f"{path} is corrupt: a domain is neither 0 (background) nor 1 (target)")
            self.labels = np.frombuffer(f.read(parts[1]), dtype="<i4").reshape(n, nl)
            self.factors = np.frombuffer(f.read(parts[2]), dtype="<f4").reshape(n, nf)
            self.pixels = np.frombuffer(f.read(parts[3]), dtype=np.uint8).reshape(n, c, s, s)
            self.masks = (np.frombuffer(f.read(parts[4]), dtype=np.uint8).reshape(n, s, s)
                          if h["masks"] else None)

    def __len__(self):
        return self.header["count"]

    @property
    def side(self):
        return self.header["side"]

    @property
    def channels(self):
        return self.header["channels"]


def unit(pixels_u8):
    """src/pixels.rs `unit`: byte / 127.5 - 1 in float32 (the same two IEEE operations, so the
    same bits as the project's trainer), on a numpy array of bytes."""
    return pixels_u8.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def unit_table():
    """unit() of the 256 byte values: indexing this table converts pixels exactly on any device
    (torch may divide by a scalar as a multiplication by its rounded reciprocal)."""
    return unit(np.arange(256, dtype=np.uint8))


def write(path, header, domains, labels, factors, pixels, masks=None, version=3):
    """Writes a dataset file (for tests): header is a dict with recipe, description, side,
    channels, labels, factor_names (count and masks are filled in)."""
    domains = np.asarray(domains, dtype=np.uint8)
    n = len(domains)
    h = dict(header)
    h["count"] = n
    h["masks"] = masks is not None
    raw = json.dumps(h, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<II", version, len(raw)) + raw)
        f.write(domains.tobytes())
        f.write(np.asarray(labels, dtype="<i4").reshape(n, -1).tobytes())
        f.write(np.asarray(factors, dtype="<f4").reshape(n, -1).tobytes())
        f.write(np.asarray(pixels, dtype=np.uint8).tobytes())
        if masks is not None:
            f.write(np.asarray(masks, dtype=np.uint8).tobytes())
