#!/usr/bin/env bash
# Builds the browser viewer into web/dist/, a folder of static files:
#   scripts/build-web.sh
# Installs the wasm32 target and wasm-bindgen-cli (at the version in Cargo.lock) when missing.
# Set CARGO_TARGET_DIR to share one build between runs (the wasm build of burn takes ~12 min).
# DINFOGAN_WASM_NAMES=1 keeps the CPU-only module's function names (for tests/profile-load.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown
# The CLI must match the wasm-bindgen crate exactly. Not `--locked`: the CLI's own lock names a
# webpki-roots release the registry no longer has.
version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $version"; then
  cargo install wasm-bindgen-cli --version "$version"
fi

# Two modules: the whole viewer (WebGPU and the CPU), and a CPU-only one (burn-flex alone, a
# fraction of the size) that the page loads first to draw the first grid while the WebGPU one
# loads. Both come out of the same crate; `--no-default-features` drops WebGPU.
rm -rf web/dist
mkdir -p web/dist
cp -r web/www/. web/dist/
built="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/dinfogan_web.wasm"
cargo build --release --target wasm32-unknown-unknown -p dinfogan-web
wasm-bindgen --target web --no-typescript --out-dir web/dist/pkg "$built"
cargo build --release --target wasm32-unknown-unknown -p dinfogan-web --no-default-features
# The CPU-only module ships as LLVM wrote it, less its name section (wasm-bindgen drops it),
# not through wasm-opt: on the page's first load V8 runs it in baseline code compiled function by
# function on first call, and there wasm-opt's output was slower (the model parsed in ~40 ms
# instead of ~23, the first row of 8 images in ~95 ms instead of ~58; first grid median 0.46 s
# against 0.41 s, BENCHMARKS.md), and its gzipped size larger (713 KB against 630 KB).
names=--remove-name-section
[ "${DINFOGAN_WASM_NAMES:-0}" = 1 ] && names=
wasm-bindgen --target web --no-typescript --out-dir web/dist/pkg --out-name dinfogan_web_cpu \
  $names "$built"

# The whole module: half the size through binaryen's wasm-opt (npm, pinned in web/package.json).
# It takes minutes on two cores, so its output is cached by the input's hash.
# DINFOGAN_WASM_OPT=0 skips it.
optimise() {
  local wasm="$1"
  if [ ! -x web/node_modules/.bin/wasm-opt ]; then
    if ! command -v npm >/dev/null; then
      echo "error: wasm-opt comes from npm (binaryen): install Node.js and npm, or skip it with DINFOGAN_WASM_OPT=0" >&2
      exit 1
    fi
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
  fi
  local cache hash
  # sha256sum on Linux, shasum on macOS.
  hash=$( (sha256sum "$wasm" 2>/dev/null || shasum -a 256 "$wasm") | cut -c1-32)
  cache="$CARGO_TARGET_DIR/wasm-opt/$hash.wasm"
  if [ ! -f "$cache" ]; then
    mkdir -p "$(dirname "$cache")"
    echo "optimising $(basename "$wasm") with wasm-opt -Oz (minutes)..."
    web/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-simd "$wasm" -o "$cache.tmp"
    mv "$cache.tmp" "$cache"
  fi
  cp "$cache" "$wasm"
}
wasm=web/dist/pkg/dinfogan_web_bg.wasm
cpu_wasm=web/dist/pkg/dinfogan_web_cpu_bg.wasm
if [ "${DINFOGAN_WASM_OPT:-1}" = 1 ]; then
  optimise "$wasm"
fi
# The notebook widget's package (web/python) carries the same files; its module travels gzipped.
static=web/python/src/dinfogan_viewer/static
rm -rf "$static"
mkdir -p "$static"
cp web/dist/viewer.js web/dist/viewer.css web/dist/worker.js web/dist/pkg/dinfogan_web.js "$static/"
gzip -6 -c "$wasm" > "$static/dinfogan_web_bg.wasm.gz"
# With the catalogue's first (best) model, which Viewer() opens, and the demo model of the
# built-in data that the teaching notebook explains; and the licence files for its metadata.
mkdir -p "$static/models"
best=$(sed -n 's/^ *"file": *"\([^"]*\)".*/\1/p' web/www/models/models.json | head -n 1)
cp web/www/models/models.json "web/www/models/$best" web/www/models/demo.bpk "$static/models/"
cp LICENSE-MIT LICENSE-APACHE web/python/

size() { echo "$(wc -c < "$1" | tr -d ' ') bytes, $(gzip -9 -c "$1" | wc -c | tr -d ' ') gzipped"; }
echo "built web/dist: $(du -sh web/dist | cut -f1) in all; $wasm is $(size "$wasm"); $cpu_wasm is $(size "$cpu_wasm")"
