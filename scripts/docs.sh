#!/usr/bin/env bash
# Builds the book (docs/) into target/book with mdBook, at the version pinned here (installed
# with cargo when missing or different), and fails on any warning mdBook prints (a chapter
# missing from SUMMARY.md, an include that does not resolve, ...). The examples and links of
# the book are tests of their own: `cargo test` runs them (src/manual/examples.rs,
# tests/integration/docs.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
MDBOOK_VERSION="0.4.52"

if [ "$(mdbook --version 2>/dev/null)" != "mdbook v$MDBOOK_VERSION" ]; then
  echo "==> installing mdbook $MDBOOK_VERSION"
  cargo install mdbook --version "$MDBOOK_VERSION" --locked --quiet
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! mdbook build docs >"$log" 2>&1; then
  cat "$log" >&2
  echo "mdbook build failed" >&2
  exit 1
fi
if grep -E '\b(WARN|ERROR)\b' "$log" >&2; then
  echo "mdbook printed warnings (above); the book must build without them" >&2
  exit 1
fi
echo "target/book/index.html"
