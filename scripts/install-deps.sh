#!/usr/bin/env bash
# Installs what building and testing ddns-cgi needs on Debian/Ubuntu: the real DNS servers,
# web servers and clients the tests drive, and a Rust toolchain if there is none.
# Usage: scripts/install-deps.sh [PACKAGE...]   (extra Debian packages to add)
set -euo pipefail

packages=(
  build-essential pkg-config ca-certificates curl
  knot knot-dnsutils bind9 bind9-dnsutils
  bind9-utils  # dnssec-keygen, dnssec-signzone: zones signed by hand (tests/integration/dnssec/)
  # PowerDNS with its SQLite backend, and the client that loads the backend's schema
  # (tests/integration/util/dnsserver/powerdns.rs, the PowerDNS pass of scripts/test.sh).
  pdns-server pdns-backend-sqlite3 sqlite3
  python3-aiosmtpd
  nginx fcgiwrap apache2 libapache2-mod-fcgid ddclient inadyn wget busybox spawn-fcgi systemd
  iproute2  # ip netns, veth links: tests/integration/netns.rs
  time  # /usr/bin/time: peak RSS in tests/integration/hardening.rs and the benches
  groff-base man-db zsh fish  # the manual and completions (tests/integration/manual.rs)
  dpkg-dev  # cargo-deb reads the binary's library dependencies with dpkg-shlibdeps
  lintian  # scripts/test.sh checks the built package with it
  # The shipped files' own checkers (tests/integration/shipped.rs): `logrotate -d`,
  # `openssl req` for the example site's certificate.
  logrotate openssl
  pebble python3-venv  # the ACME DNS-01 test (tests/integration/acme.rs)
  # The web console's browser tests (tests/integration/browser/): headless Chromium driven
  # over WebDriver by chromedriver.
  chromium chromium-driver
  # scripts/bench.sh: the load generator, and JSON of `hostname list` read by python3.
  wrk python3
  # scripts/charts.sh (run by scripts/bench.sh): the benchmark's charts as SVG.
  gnuplot-nox fonts-dejavu-core
  # PostgreSQL, the shared database (tests/integration/postgres.rs, and the second pass of
  # scripts/test.sh): the harness runs its own initdb and server, never the system cluster.
  postgresql
  # MariaDB, the third engine (tests/integration/mariadb.rs, and the third pass of
  # scripts/test.sh): the harness runs its own mariadb-install-db and server, never the system's.
  mariadb-server
  "$@"
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  $sudo apt-get update -qq
  # Packages such as bind9 and knot start their system service when systemd runs; the tests
  # never use those: they start their own servers on random loopback ports.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "==> installing Rust with rustup (Debian's cargo is too old for edition 2024)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# certbot with the acme-dns plugin, for tests/integration/acme.rs: Debian has no package of
# the plugin, so both come from PyPI into a virtual environment in the user's cache, where
# the test looks for it (or set DDNS_CERTBOT to another certbot with the plugin).
venv="${XDG_CACHE_HOME:-$HOME/.cache}/ddns-cgi/certbot-venv"
if [ ! -x "$venv/bin/certbot" ]; then
  echo "==> installing certbot and certbot-dns-acmedns into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet certbot certbot-dns-acmedns
fi
