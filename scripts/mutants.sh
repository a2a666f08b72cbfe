#!/usr/bin/env bash
# Mutation testing with cargo-mutants: each mutant (one small change in src/) is built and
# tested, with the real servers required. Settings live in .cargo/mutants.toml; results land
# in mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt, outcomes.json). See
# TESTING.md, "Mutation testing" and "Mutation score".
#
# Usage: scripts/mutants.sh [--unit | --integration] [--only LIST] [FILE...] [-- CARGO-MUTANTS-ARGS...]
#   without FILEs: src/update/**/*.rs src/ratelimit.rs src/dns/*.rs src/auth/*.rs src/store/**/*.rs
#   --unit          phase 1: build and run the binary's unit tests only (seconds a mutant)
#   --integration   phase 2: the integration suite under cargo-nextest, which stops a mutant
#                   at its first failing test (needs `cargo install --locked cargo-nextest`)
#   --only LIST     only the mutants named in LIST, one name a line as `--list` prints them
#                   (a missed.txt of phase 1), each matched exactly; their files are examined
#   neither phase:  the whole suite under `cargo test` for every mutant (hours)
#   e.g.  scripts/mutants.sh -- --list                         the mutants, without running them
#         scripts/mutants.sh --unit -- -o mutants.unit           phase 1 of all five modules
#         scripts/mutants.sh --integration --only mutants.unit/mutants.out/missed.txt \
#             -- -o mutants.integ -- -E 'test(/^ratelimit::/)'   phase 2, one nextest filter
#
# One job at a time: the suite itself runs servers in parallel, and two suites at once on a
# small machine make timeouts, not findings. Needs `cargo install --locked cargo-mutants`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

phase=()
only=""
files=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  case "$1" in
    --unit) phase=(-C --bin=ddns-cgi) ;;
    --integration) phase=(--test-tool nextest -C --test=integration) ;;
    --only)
      only="${2:?--only needs a file of mutant names}"
      shift
      ;;
    *) files+=("$1") ;;
  esac
  shift
done
[ "${1:-}" = "--" ] && shift
if [ "${#files[@]}" -eq 0 ] && [ -z "$only" ]; then
  files=("src/update/**/*.rs" src/ratelimit.rs "src/dns/*.rs" "src/auth/*.rs" "src/store/**/*.rs")
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
if [ -n "$only" ]; then
  [ -s "$only" ] || { echo "no mutant names in $only" >&2; exit 2; }
  # Each name as an exact regex: `-F` takes regexes, and names hold `(`, `+`, `|`, `*`...
  while IFS= read -r name; do
    [ -n "$name" ] || continue
    args+=(-F "^$(printf '%s' "$name" | sed 's/[][\\.+*?(){}|^$]/\\&/g')\$")
  done <"$only"
  # cargo-mutants 27.1 does not apply -F to its "delete field" mutants: naming the files keeps
  # those of other files out (those of the named files are tested along).
  while IFS= read -r f; do
    args+=(--file "$f")
  done < <(cut -d: -f1 "$only" | sort -u)
fi
# `--in-place` (in a disposable copy of the tree) runs one job by definition.
jobs=(--jobs 1)
for a in "$@"; do
  [ "$a" = "--in-place" ] && jobs=()
done
exec cargo mutants "${jobs[@]}" "${phase[@]}" "${args[@]}" "$@"
