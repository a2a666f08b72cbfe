#!/usr/bin/env bash
# Runs one cargo-fuzz target for a set time and prints libFuzzer's final figures.
# Usage: scripts/fuzz.sh TARGET SECONDS    (TARGET: request, basic_auth, config, fastcgi_records, acme_body)
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags, and
# `--sanitizer none` needs no nightly sanitizer runtime (coverage-guided, no ASan; the code
# under test has no `unsafe`, so ASan would find nothing the panic hook does not). The corpus
# in fuzz/corpus/TARGET is read and extended; crashes land in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh TARGET SECONDS}"
seconds="${2:?usage: scripts/fuzz.sh TARGET SECONDS}"
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cd fuzz
# A scratch copy of the corpus grows during the run; the committed seeds stay small.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "corpus/$target/." "$work/"
RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none --release "$target" "$work" -- \
  -max_total_time="$seconds" -max_len=16384 -timeout=10 -print_final_stats=1 2>&1 |
  grep -E '^(#[0-9]+.*(DONE|pulse|INITED)|stat::|Done [0-9]+ runs)|panicked|ERROR|SUMMARY' || true
echo "corpus after the run: $(ls "$work" | wc -l) inputs"
