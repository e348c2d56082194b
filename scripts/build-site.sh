#!/usr/bin/env bash
# Writes the viewer as a folder that any static web server or host serves unchanged, under any
# path (https://host/course/dinfogan/, GitHub Pages, Netlify, an S3 bucket): the page, both
# WebAssembly modules, the bundled models and their catalogue; every URL in it is relative.
#   scripts/build-site.sh [OUT]      (default dist/site; runs scripts/build-web.sh when web/dist is not built)
# Copy OUT's contents to the host. Hosts that guess types: .wasm must be served as
# application/wasm for streaming compilation (the page falls back to a plain download otherwise),
# .js as text/javascript; OUT/_headers says so for hosts that read it (Netlify, Cloudflare Pages).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist/site}"
[ -f web/dist/index.html ] || scripts/build-web.sh

# Only relative URLs: a leading slash would point at the host's root, not the site's folder.
if grep -nE "(src|href)=\"/[^/]|(fetch|import)\\(['\"\`]/[^/]|new URL\\(['\"\`]/[^/]" \
  web/dist/index.html web/dist/*.js; then
  echo "error: the lines above use a URL from the host's root; the site must use relative URLs" >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$out"
cp -R web/dist/. "$out/"
# GitHub Pages: serve the files as they are (no Jekyll processing).
: > "$out/.nojekyll"
cat > "$out/_headers" <<'HEADERS'
/*.wasm
  Content-Type: application/wasm
/*.js
  Content-Type: text/javascript; charset=utf-8
/*.bpk
  Content-Type: application/octet-stream
HEADERS
files=$(find "$out" -type f | wc -l | tr -d ' ')
echo "wrote $out: $files files, $(du -sh "$out" | cut -f1); copy its contents to any static host"
