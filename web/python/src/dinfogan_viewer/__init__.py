"""The Double InfoGAN viewer as a Jupyter widget.

``Viewer("model.bpk")`` (a file written by ``dinfogan export``, or its bytes) shows the
generation grid, the salient sliders and the swap panel in the output cell. The model runs in
the notebook's browser (WebGPU, else the CPU through WebAssembly): the viewer's code and its
WebAssembly module travel to the browser over the widget's own channel, so nothing needs a
server or a URL the browser can reach.

Traits that round-trip between Python and the browser: ``rows``, ``cols``, ``common_seed``,
``salient_seed``, ``row`` (the row the sliders start from) and ``salient`` (its salient code);
from the browser only: ``grid_png`` (the last grid, PNG bytes), ``status`` (loading, ready or
error) and ``error`` (the sentence shown, if any).
"""

from __future__ import annotations

import json
import os
import pathlib
import struct

import anywidget
import traitlets
from ipywidgets.widgets.trait_types import bytes_serialization

__all__ = ["Viewer", "model_info"]

_HERE = pathlib.Path(__file__).parent
_STATIC = _HERE / "static"
_MAGIC = b"DINFOGAN"
# Headers are a few hundred bytes; the same bound as the Rust reader's.
_MAX_HEADER = 1 << 20


def _static(name: str, binary: bool = False):
    path = _STATIC / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: this package was installed without the built viewer; "
            "run scripts/build-web.sh, then pip install ./web/python"
        )
    return path.read_bytes() if binary else path.read_text(encoding="utf-8")


def model_info(model) -> dict:
    """The JSON header of a model file (a path or its bytes): its configuration and prior."""
    data = _read_model(model)
    if len(data) < 16 or data[:8] != _MAGIC:
        raise ValueError(
            "this is not a Double InfoGAN model file (export one with `dinfogan export`)"
        )
    _version, length = struct.unpack("<II", data[8:16])
    if length > _MAX_HEADER or 16 + length > len(data):
        raise ValueError("the model file is truncated or corrupt (its header is incomplete)")
    return json.loads(data[16 : 16 + length])


def _read_model(model) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        return pathlib.Path(model).read_bytes()
    raise TypeError("give the model as a path to a `dinfogan export` file or as its bytes")


class Viewer(anywidget.AnyWidget):
    """The viewer of one model; display it (the last expression of a cell) to see it."""

    _esm = _HERE / "widget.js"
    _css = _STATIC / "viewer.css"

    # The viewer's code and WebAssembly module, sent to the browser with the widget.
    _viewer_js = traitlets.Unicode().tag(sync=True)
    _worker_js = traitlets.Unicode().tag(sync=True)
    _glue_js = traitlets.Unicode().tag(sync=True)
    _wasm_gz = traitlets.Bytes().tag(sync=True)

    model = traitlets.Bytes(help="the model file's bytes").tag(sync=True)
    model_name = traitlets.Unicode("model").tag(sync=True)
    backend = traitlets.Enum(["auto", "webgpu", "cpu"], "auto").tag(sync=True)
    rows = traitlets.Int(4).tag(sync=True)
    cols = traitlets.Int(6).tag(sync=True)
    common_seed = traitlets.Int(0).tag(sync=True)
    salient_seed = traitlets.Int(0).tag(sync=True)
    row = traitlets.Int(0).tag(sync=True)
    salient = traitlets.List(traitlets.Float()).tag(sync=True)
    # Bytes from the browser arrive as a memoryview: ipywidgets' serialiser makes them bytes.
    grid_png = traitlets.Bytes().tag(sync=True, **bytes_serialization)
    status = traitlets.Unicode("loading").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, model, **kwargs):
        name = kwargs.pop("model_name", None)
        if name is None:
            name = pathlib.Path(model).name if isinstance(model, (str, os.PathLike)) else "model"
        super().__init__(
            model=_read_model(model),
            model_name=name,
            _viewer_js=_static("viewer.js"),
            _worker_js=_static("worker.js"),
            _glue_js=_static("dinfogan_web.js"),
            _wasm_gz=_static("dinfogan_web_bg.wasm.gz", binary=True),
            **kwargs,
        )

    @traitlets.validate("rows")
    def _valid_rows(self, proposal):
        if not 1 <= proposal["value"] <= 16:
            raise traitlets.TraitError("rows must be between 1 and 16")
        return proposal["value"]

    @traitlets.validate("cols")
    def _valid_cols(self, proposal):
        if not 2 <= proposal["value"] <= 16:
            raise traitlets.TraitError("cols must be between 2 and 16")
        return proposal["value"]

    @traitlets.validate("common_seed", "salient_seed")
    def _valid_seed(self, proposal):
        if not 0 <= proposal["value"] < 2**32:
            raise traitlets.TraitError("seeds are between 0 and 4294967295")
        return proposal["value"]
