#!/usr/bin/env bash
# The first thing to run on a machine with a GPU: which adapters wgpu sees, whether a training
# step on the GPU computes what the CPU computes, and how fast the 64x64 iteration runs there.
#
#   scripts/gpu-check.sh          64x64, B = 64: the CPU, wgpu, wgpu built with --features
#                                 gpu-tuned (kernel fusion + autotune: a second build of burn),
#                                 and PyTorch on CUDA where a python with CUDA torch is found
#   scripts/gpu-check.sh --tiny   32x32, width 8, B = 2, no gpu-tuned build: what CI runs on
#                                 lavapipe (Mesa's Vulkan on the CPU), so the script cannot rot
#
# Every wgpu run first checks itself against the CPU (`dinfogan bench --check`: two iterations
# from the same weights, images and random numbers; burn has open reports of wrong results with
# fusion + autotune on Vulkan) and the script stops with an error when one differs. Prints one
# Markdown table for BENCHMARKS.md. $PYTHON picks the python (default python3);
# $CARGO_TARGET_DIR the build folder. On a machine without Rust (a GPU machine lent for an hour),
# DINFOGAN_BIN and DINFOGAN_BIN_TUNED name binaries built elsewhere (`cargo build --release -p
# dinfogan-cli`, the second with `--features gpu-tuned`): nothing is built then, and the tuned
# row is skipped when DINFOGAN_BIN_TUNED is unset.
set -euo pipefail
cd "$(dirname "$0")/.."
tiny=0
case "${1:-}" in
  --tiny) tiny=1 ;;
  "") ;;
  *) echo "usage: scripts/gpu-check.sh [--tiny]" >&2; exit 2 ;;
esac
target="${CARGO_TARGET_DIR:-target}"
python="${PYTHON:-python3}"
if [ "$tiny" = 1 ]; then
  shape=(--size 32 --width 8 --batch 2 --iters 1)
  torch_shape=(--size 32 --width 8 --batch 2 --iters 1)
else
  shape=(--size 64 --width 64 --batch 64 --iters 5)
  torch_shape=(--size 64 --width 64 --batch 64 --iters 5)
fi

if [ -n "${DINFOGAN_BIN:-}" ]; then
  bin="$DINFOGAN_BIN"
else
  cargo build --release -p dinfogan-cli --quiet
  bin="$target/release/dinfogan"
fi

echo "## Devices"
"$bin" devices
echo

rows=()
# bench NAME BINARY ARGS...: runs `dinfogan bench`, keeps its check and timing lines.
bench() {
  local name="$1" binary="$2"
  shift 2
  local out
  if ! out="$("$binary" bench "$@" "${shape[@]}" 2>&1)"; then
    echo "$out" >&2
    echo "error: $name failed (above)" >&2
    exit 1
  fi
  echo "$out" | grep -E '^(backend|check):' | sed "s/^/$name: /"
  local per images check
  per="$(echo "$out" | sed -n 's/.* \([0-9.]*\) s per iteration.*/\1/p')"
  images="$(echo "$out" | sed -n 's/.*, \([0-9.]*\) images\/s.*/\1/p')"
  check="$(echo "$out" | sed -n 's/^check: \(agrees\) .*difference of .* \([0-9.e+-]*\) (.*/\1, \2/p')"
  rows+=("| $name | $per | $images | ${check:-(reference)} |")
}

bench "CPU (burn-flex)" "$bin" --backend cpu
bench "wgpu" "$bin" --backend wgpu --check
if [ "$tiny" = 0 ]; then
  if [ -n "${DINFOGAN_BIN:-}" ]; then
    tuned="${DINFOGAN_BIN_TUNED:-}"
  else
    cargo build --release -p dinfogan-cli --features gpu-tuned --quiet --target-dir "$target/gpu-tuned"
    tuned="$target/gpu-tuned/release/dinfogan"
  fi
  if [ -n "$tuned" ]; then
    bench "wgpu, --features gpu-tuned" "$tuned" --backend wgpu --check
  fi
fi
if "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  for variant in public saving; do
    out="$("$python" bench/pytorch_reference.py --device cuda --variant "$variant" "${torch_shape[@]}")"
    per="$(echo "$out" | sed -n 's/.* \([0-9.]*\) s per iteration.*/\1/p')"
    images="$(echo "$out" | sed -n 's/.*, \([0-9.]*\) images\/s.*/\1/p')"
    rows+=("| PyTorch on CUDA, $variant iteration | $per | $images | |")
  done
else
  echo "(no python with CUDA torch: PyTorch rows skipped)"
fi

echo
echo "## The iteration: ${shape[*]}"
echo
echo "| run | s / iteration | images/s | check against the CPU (largest relative difference) |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
