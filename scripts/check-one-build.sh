#!/usr/bin/env bash
# Fails when a cargo command the README or the scripts use would compile burn a second time:
# after `cargo test --release --workspace`, each command below must find every burn crate fresh
# (cargo resolves features per command; a difference rebuilds burn, ~14 minutes on two cores).
#   scripts/check-one-build.sh      (run by scripts/test.sh after the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
check() {
  local rebuilt
  rebuilt="$(cargo "$@" --message-format=json 2>/dev/null | "$python" -c '
import json, sys
names = set()
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and not m.get("fresh", True):
        name = m["target"]["name"]
        if name.startswith(("burn", "cubecl", "cubek")):
            names.add(name)
print(" ".join(sorted(names)))
')"
  if [ -n "$rebuilt" ]; then
    echo "error: \`cargo $*\` compiled burn again ($rebuilt): its features differ from \`cargo test --release --workspace\`'s" >&2
    exit 1
  fi
  echo "one build of burn: \`cargo $*\` found it fresh"
}
check build --release -p dinfogan-cli
check build --release --workspace
# `cargo install` has no JSON messages: its progress lines say what it compiled. Without
# `--locked` it resolves the newest versions instead of Cargo.lock's and builds burn again.
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
cargo install --locked --path cli --root "$root" >"$root/log" 2>&1 || { cat "$root/log" >&2; exit 1; }
rebuilt="$(grep -oE 'Compiling (burn|cubecl|cubek)[a-z0-9_-]*' "$root/log" | sort -u | tr '\n' ' ' || true)"
if [ -n "$rebuilt" ]; then
  echo "error: \`cargo install --locked --path cli\` compiled burn again ($rebuilt)" >&2
  exit 1
fi
echo "one build of burn: \`cargo install --locked --path cli\` found it fresh"
