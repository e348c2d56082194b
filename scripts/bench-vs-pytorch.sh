#!/usr/bin/env bash
# The training iteration of `dinfogan bench` and of its PyTorch reference
# (bench/pytorch_reference.py: the public code's iteration and the work-saving one), side by
# side on this machine, alternating, ROUNDS times. Prints the CPU, every time, and the ratios
# PyTorch time / dinfogan time (above 1: dinfogan is faster) as median [min, max] over rounds.
#   scripts/bench-vs-pytorch.sh [ROUNDS=3] [SIZE=64] [BATCH=64] [ITERS=3] [CHANNELS=3] [WIDTH=64]
# (SIZE 128 runs the Table 5 network; the paper trains it on grey images: CHANNELS=1. The
# cpu-hour preset's shape: SIZE 32, BATCH 32, WIDTH 32.)
# Needs the release CLI (built by scripts/test.sh or `cargo build --release -p dinfogan-cli`;
# $DINFOGAN_BIN overrides) and a python with torch ($PYTHON, default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}" size="${2:-64}" batch="${3:-64}" iters="${4:-3}" channels="${5:-3}" width="${6:-64}"
bin="${DINFOGAN_BIN:-${CARGO_TARGET_DIR:-target}/release/dinfogan}"
python="${PYTHON:-python3}"
[ -x "$bin" ] || { echo "error: the CLI is missing at $bin: build it first" >&2; exit 1; }
"$python" -c "import torch" 2>/dev/null ||
  { echo "error: $python has no torch: pip install torch, or set PYTHON" >&2; exit 1; }

if [ -r /proc/cpuinfo ]; then
  # (`nproc --all`: plain nproc obeys OMP_NUM_THREADS.)
  echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) cores;" \
    "$(grep -o -w -E 'avx2|avx512f|avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
else # macOS
  echo "CPU: $(sysctl -n machdep.cpu.brand_string), $(sysctl -n hw.ncpu) cores"
fi
echo "threads: dinfogan ${RAYON_NUM_THREADS:-every core} (RAYON_NUM_THREADS), PyTorch ${OMP_NUM_THREADS:-every core} (OMP_NUM_THREADS)"
table=4; [ "$size" = 128 ] && table=5
echo "Table $table model, ${size}x${size}x$channels, width $width, B = $batch per domain, $iters timed iterations per run"
per_iter() { sed -n 's/.* \([0-9.]*\) s per iteration.*/\1/p' | tail -1; }
declare -a ours public saving
for r in $(seq 1 "$rounds"); do
  ours+=("$("$bin" bench --backend cpu --size "$size" --channels "$channels" --batch "$batch" --width "$width" --iters "$iters" | per_iter)")
  public+=("$("$python" bench/pytorch_reference.py --variant public --size "$size" --channels "$channels" --batch "$batch" --width "$width" --iters "$iters" | per_iter)")
  saving+=("$("$python" bench/pytorch_reference.py --variant saving --size "$size" --channels "$channels" --batch "$batch" --width "$width" --iters "$iters" | per_iter)")
  last=$((${#ours[@]} - 1)) # (bash 3, macOS's, has no negative indices)
  echo "round $r: dinfogan ${ours[$last]} s, PyTorch public ${public[$last]} s, PyTorch saving ${saving[$last]} s"
done
python3 - "${ours[*]}" "${public[*]}" "${saving[*]}" <<'PY'
import statistics, sys
ours, public, saving = ([float(v) for v in a.split()] for a in sys.argv[1:4])
print("\n| | s / iteration (median) | PyTorch / dinfogan, median [min, max] |\n|---|---|---|")
print(f"| dinfogan (burn-flex) | {statistics.median(ours):.2f} | |")
for name, times in (("PyTorch, public code's iteration", public), ("PyTorch, work-saving iteration", saving)):
    ratios = [t / o for t, o in zip(times, ours)]
    print(f"| {name} | {statistics.median(times):.2f} | {statistics.median(ratios):.2f} [{min(ratios):.2f}, {max(ratios):.2f}] |")
PY
