#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real servers and clients, then runs the
# formatting and lint gate and every test. DDNS_REQUIRE_SERVERS=1 turns a missing server
# binary into a failure instead of a loud skip.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
export DDNS_REQUIRE_SERVERS=1

echo "==> cargo fmt --check"
cargo fmt --check
echo "==> cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "==> cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked --quiet
echo "==> cargo test"
cargo test --locked
