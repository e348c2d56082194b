"""The Double InfoGAN viewer as a Jupyter widget.

``Viewer()`` shows the best model bundled with the package; ``Viewer("model.bpk")`` a file
written by ``dinfogan export`` (or its bytes). The generation grid, the salient sliders and the
swap panel appear in the output cell. The model runs in the notebook's browser (WebGPU, else the
CPU through WebAssembly): the viewer's code, its WebAssembly module and the model travel to the
browser over the widget's own channel, so nothing needs a server or a URL the browser can reach.
They travel as messages, not as widget state: a notebook saved with its widget state stays
small, and the browser fetches the viewer's code once per page, however many viewers it shows.

Traits that round-trip between Python and the browser: ``rows``, ``cols``, ``common_seed``,
``salient_seed``, ``row`` (the row the sliders start from) and ``salient`` (its salient code);
from the browser only: ``grid_png`` (the last grid, PNG bytes), ``status`` (loading, ready or
error) and ``error`` (the sentence shown, if any). ``model`` (the model file's bytes) may be
set from Python to show another model.
"""

from __future__ import annotations

import json
import os
import pathlib
import struct

import anywidget
import traitlets
from ipywidgets.widgets.trait_types import bytes_serialization

__all__ = ["Viewer", "bundled_model", "bundled_models", "model_info"]

_HERE = pathlib.Path(__file__).parent
_STATIC = _HERE / "static"
_MODELS = _STATIC / "models"
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


def bundled_models() -> list:
    """The models packaged with the viewer, best first: dicts with ``name``, ``title``,
    ``about`` and ``path`` (the catalogue of the project's web page, for the files it ships)."""
    catalogue = _MODELS / "models.json"
    if not catalogue.is_file():
        raise FileNotFoundError(
            f"{catalogue} is missing: this package was installed without its bundled models; "
            "run scripts/build-web.sh, then pip install ./web/python (or install the wheel "
            "scripts/build-wheel.sh writes)"
        )
    entries = json.loads(catalogue.read_text(encoding="utf-8"))
    return [
        {
            "name": pathlib.Path(entry["file"]).stem,
            "title": entry.get("title", ""),
            "about": entry.get("about", ""),
            "path": _MODELS / entry["file"],
        }
        for entry in entries
        if (_MODELS / entry["file"]).is_file()
    ]


def bundled_model(name: str | None = None) -> pathlib.Path:
    """The path of a bundled model: the best one, or the one called ``name`` (for example
    ``"demo"``, the small model of the project's built-in data)."""
    models = bundled_models()
    if not models:
        raise FileNotFoundError(f"no bundled model in {_MODELS}: reinstall the package")
    if name is None:
        return models[0]["path"]
    for model in models:
        if model["name"] == name:
            return model["path"]
    names = ", ".join(m["name"] for m in models)
    raise ValueError(f"no bundled model called {name!r}: the bundled models are {names}")


class Viewer(anywidget.AnyWidget):
    """The viewer of one model; display it (the last expression of a cell) to see it."""

    _esm = _HERE / "widget.js"
    _css = _STATIC / "viewer.css"

    # The viewer's code and the model are not widget state (which a saved notebook keeps): the
    # browser asks for them in messages (see _on_message). The version names the viewer's build,
    # so that a page that already holds it (another viewer) does not ask again.
    _assets_version = traitlets.Unicode().tag(sync=True)
    # Bumped when `model` changes: the browser then asks for the new bytes.
    _model_version = traitlets.Int(0).tag(sync=True)

    model = traitlets.Bytes(help="the model file's bytes")
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

    def __init__(self, model=None, **kwargs):
        if model is None:
            model = bundled_model()
        name = kwargs.pop("model_name", None)
        if name is None:
            name = pathlib.Path(model).name if isinstance(model, (str, os.PathLike)) else "model"
        super().__init__(
            model=_read_model(model),
            model_name=name,
            _assets_version=_assets_version(),
            **kwargs,
        )
        self.on_msg(_on_message)

    @traitlets.observe("model")
    def _model_changed(self, _change):
        self._model_version += 1

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


_ASSETS = ("viewer.js", "worker.js", "dinfogan_web.js", "dinfogan_web_bg.wasm.gz")


def _assets_version() -> str:
    """A name for this build of the viewer: its files' sizes and modification times."""
    parts = []
    for name in _ASSETS:
        path = _STATIC / name
        if not path.is_file():
            _static(name)  # the sentence that says how to build it
        stat = path.stat()
        parts.append(f"{stat.st_size}-{stat.st_mtime_ns}")
    return "/".join(parts)


def _on_message(widget: Viewer, content, _buffers) -> None:
    """The browser's requests: the viewer's code (once per page) and the model's bytes."""
    if not isinstance(content, dict):
        return
    kind = content.get("request")
    if kind == "assets":
        widget.send(
            {
                "assets": widget._assets_version,
                "viewer_js": _static("viewer.js"),
                "worker_js": _static("worker.js"),
                "glue_js": _static("dinfogan_web.js"),
            },
            buffers=[_static("dinfogan_web_bg.wasm.gz", binary=True)],
        )
    elif kind == "model":
        widget.send({"model": widget._model_version}, buffers=[widget.model])
