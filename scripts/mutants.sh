#!/usr/bin/env bash
# Mutation testing with cargo-mutants: each mutant (one small change in src/) is built and
# the whole suite is run against it, with the real servers required. Settings live in
# .cargo/mutants.toml; results land in mutants.out/ (caught.txt, missed.txt, timeout.txt,
# unviable.txt, outcomes.json). See TESTING.md, "Mutation testing".
#
# Usage: scripts/mutants.sh [FILE...] [-- CARGO-MUTANTS-ARGS...]
#   without FILEs: src/update/*.rs src/ratelimit.rs src/dns.rs src/auth/*.rs src/store/**/*.rs
#   e.g.  scripts/mutants.sh -- --list            the mutants, without running them
#         scripts/mutants.sh src/ratelimit.rs     one module
#         scripts/mutants.sh -- --iterate          only what was missed last time
#
# One job at a time: the suite itself runs servers in parallel, and two suites at once on a
# small machine make timeouts, not findings. Needs `cargo install --locked cargo-mutants`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

files=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  files+=("$1")
  shift
done
[ "${1:-}" = "--" ] && shift
if [ "${#files[@]}" -eq 0 ]; then
  files=("src/update/*.rs" src/ratelimit.rs src/dns.rs "src/auth/*.rs" "src/store/**/*.rs")
fi

if ! command -v cargo-mutants >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: cargo install --locked cargo-mutants" >&2
  exit 2
fi
# A skipped test catches nothing: refuse the opt-out, require every server.
if [ -n "${DDNS_SKIP_SERVERS:-}" ]; then
  echo "mutation testing needs every test to run; unset DDNS_SKIP_SERVERS" >&2
  exit 2
fi
export DDNS_REQUIRE_SERVERS=1

args=()
for f in "${files[@]}"; do
  compgen -G "$f" >/dev/null || { echo "no such file: $f" >&2; exit 2; }
  args+=(--file "$f")
done
exec cargo mutants --jobs 1 "${args[@]}" "$@"
