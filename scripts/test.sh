#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real servers and clients, then runs the
# formatting and lint gate, builds the Debian package, and runs every test. DDNS_REQUIRE_SERVERS=1
# turns a missing server binary into a failure instead of a loud skip; DDNS_REQUIRE_PACKAGE=1
# does the same for the package test, which installs and purges the .deb on this machine
# (root only: CI runs as root on a throwaway machine).
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
echo "==> Debian package (scripts/package.sh)"
DDNS_DEB="$(bash scripts/package.sh)"
export DDNS_DEB DDNS_REQUIRE_PACKAGE=1
echo "$DDNS_DEB"
echo "==> cargo test"
cargo test --locked
