#!/usr/bin/env bash
# Serves the built viewer (scripts/build-web.sh) on this machine only:
#   scripts/serve-web.sh [PORT]      then open http://127.0.0.1:PORT/ (default 8000)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f web/dist/index.html ]; then
  echo "error: web/dist is not built yet: run scripts/build-web.sh first" >&2
  exit 1
fi
exec python3 -m http.server --bind 127.0.0.1 --directory web/dist "${1:-8000}"
