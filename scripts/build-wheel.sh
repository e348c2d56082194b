#!/usr/bin/env bash
# Writes dist/dinfogan_viewer-<version>-py3-none-any.whl: the notebook widget (web/python) with
# the built viewer (both its JavaScript and its WebAssembly) and the bundled models, so that
# `pip install` of that one file is all a notebook user needs (no Rust, npm or repository).
#   scripts/build-wheel.sh      (runs scripts/build-web.sh first when the viewer is not built)
set -euo pipefail
cd "$(dirname "$0")/.."

static=web/python/src/dinfogan_viewer/static
if [ ! -f "$static/dinfogan_web_bg.wasm.gz" ] || [ ! -f "$static/models/models.json" ]; then
  scripts/build-web.sh
fi
cp LICENSE-MIT LICENSE-APACHE web/python/
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' web/python/pyproject.toml | head -n 1)
wheel="dist/dinfogan_viewer-$version-py3-none-any.whl"
rm -f "$wheel"
# pip builds the wheel with the build backend (hatchling) in an isolated environment of its
# own: nothing is installed into this Python.
python3 -m pip wheel --quiet --no-deps --wheel-dir dist ./web/python
# The wheel must carry what Viewer() needs: a wheel without them installs but cannot draw.
python3 - "$wheel" <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
needed = ["dinfogan_viewer/__init__.py", "dinfogan_viewer/widget.js"] + [
    f"dinfogan_viewer/static/{n}" for n in
    ("viewer.js", "viewer.css", "worker.js", "dinfogan_web.js", "dinfogan_web_bg.wasm.gz",
     "models/models.json", "models/demo.bpk")]
missing = [n for n in needed if n not in names]
if not any(n.endswith("/licenses/LICENSE-MIT") for n in names):
    missing.append("LICENSE-MIT (in the wheel's metadata)")
if missing:
    sys.exit(f"{sys.argv[1]} lacks {', '.join(missing)}")
PY
echo "wrote $wheel ($(wc -c < "$wheel" | tr -d ' ') bytes)"
