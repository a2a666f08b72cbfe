#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real servers and clients, then runs the
# formatting and lint gate, builds the book (its examples and links are tests in `cargo
# test`), builds the Debian package and runs lintian on it, runs every
# test, and the benchmark once in its short mode (it proves scripts/bench.sh still runs; no
# thresholds). The tests require the real servers and clients (a missing one fails its test,
# naming the Debian package); the opt-out DDNS_SKIP_SERVERS is for partial local runs with
# plain `cargo test` and is refused here. DDNS_REQUIRE_PACKAGE=1 requires the package test,
# which installs and purges the .deb on this machine (root only: CI runs as root on a
# throwaway machine). See TESTING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${DDNS_SKIP_SERVERS:-}" in
  "" | 0 | [Ff][Aa][Ll][Ss][Ee] | [Nn][Oo]) ;;
  *)
    echo "scripts/test.sh runs every test against the real servers; unset DDNS_SKIP_SERVERS" >&2
    exit 2
    ;;
esac
source scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
# The default already; explicit, so that a stray opt-out fails every test instead of skipping.
export DDNS_REQUIRE_SERVERS=1

echo "==> cargo fmt --check"
cargo fmt --check
echo "==> cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "==> cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked --quiet
# The fuzz targets compile parts of src/ by #[path]: a module they take that starts naming one
# they do not (as request once named auth) breaks them, and nothing else would notice.
echo "==> the fuzz targets build (cargo check in fuzz/)"
(cd fuzz && cargo check --locked --quiet)
echo "==> the book (scripts/docs.sh: mdBook into target/book, no warnings)"
scripts/docs.sh
echo "==> Debian package (scripts/package.sh)"
# Into a folder of its own: cargo-deb clears target/debian when it builds there, which the
# release test (tests/integration/changelog.rs) does while the package test installs this one.
DDNS_DEB="$(bash scripts/package.sh target/package)"
export DDNS_DEB DDNS_REQUIRE_PACKAGE=1
echo "$DDNS_DEB"
# Debian's checker of packages: any error fails the run (warnings are printed, not fatal).
echo "==> lintian"
lintian --fail-on error "$DDNS_DEB"
echo "==> cargo test"
cargo test --locked
# The same integration tests against PostgreSQL and MariaDB: the modules that touch the store
# (TESTING.md, "Both engines", "MariaDB"); the others (web servers, clients, shipped files) do
# not see the engine. The two passes run at once, each its own process of the test binary
# (its own throwaway server, random ports, temp dirs): most of a test is waiting for servers,
# so on two cores together they take little more than the longer one. Each pass's output is
# kept in a file and printed when both have ended.
store_modules=(absent:: admin:: cli:: answers:: params:: tokens:: token_scopes:: ratelimit:: expire:: resilience::
  urls:: txt:: acme:: fastcgi:: locking:: secondaries:: relay:: audit:: fanout:: flask:: families:: import::
  console:: storm::)
integration="$(cargo test --locked --test integration --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "integration" and m.get("executable"):
        print(m["executable"])')"
[ -x "$integration" ] || { echo "the integration test binary was not found" >&2; exit 1; }
mkdir -p target/test-logs
echo "==> the integration tests' store modules, on PostgreSQL and on MariaDB at once"
DDNS_TEST_DATABASE=postgres "$integration" "${store_modules[@]}" >target/test-logs/postgres.log 2>&1 &
postgres_pass=$!
DDNS_TEST_DATABASE=mariadb "$integration" "${store_modules[@]}" >target/test-logs/mariadb.log 2>&1 &
mariadb_pass=$!
postgres_rc=0 mariadb_rc=0
wait "$postgres_pass" || postgres_rc=$?
wait "$mariadb_pass" || mariadb_rc=$?
echo "==> on PostgreSQL (DDNS_TEST_DATABASE=postgres): exit $postgres_rc"
cat target/test-logs/postgres.log
echo "==> on MariaDB (DDNS_TEST_DATABASE=mariadb): exit $mariadb_rc"
cat target/test-logs/mariadb.log
if [ "$postgres_rc" != 0 ] || [ "$mariadb_rc" != 0 ]; then
  echo "the store modules failed on PostgreSQL (exit $postgres_rc) or MariaDB (exit $mariadb_rc)" >&2
  exit 1
fi
# The modules that send UPDATEs again, against PowerDNS (TESTING.md, "PowerDNS"): their
# default worlds, and the tests that loop over Knot and BIND, use PowerDNS instead.
echo "==> cargo test --test integration, against PowerDNS (DDNS_TEST_DNS=powerdns)"
DDNS_TEST_DNS=powerdns cargo test --locked --test integration -- \
  answers:: tokens:: urls:: txt:: acme:: fanout:: fastcgi:: expire::
echo "==> scripts/bench.sh --short (proves the benchmark still runs; no thresholds)"
scripts/bench.sh --short
