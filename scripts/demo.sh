#!/usr/bin/env bash
# The main job end to end on loopback: a throwaway Knot on a random port, a fresh database
# with a user and a hostname, one dyndns2 update performed as CGI, and the DNS answer.
# Everything lives in a temporary directory that is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"

echo "==> building ddns-cgi (release)"
cargo build --release --locked --quiet
bin="$PWD/target/release/ddns-cgi"

work="$(mktemp -d)"
cleanup() {
  stop_knot
  rm -rf "$work"
}
trap cleanup EXIT

source scripts/lib.sh
zone="dyn.example.test"
secret="$(head -c 32 /dev/urandom | base64)"
start_knot "$work/knot" "$zone" "$secret"
echo "==> Knot serves $zone on 127.0.0.1:$KNOT_PORT"
write_config "$work/config.toml" "$work/ddns.db" "$KNOT_PORT" "$zone" "$secret"

run() { echo "\$ ddns-cgi $*"; "$bin" --config "$work/config.toml" "$@"; }
run init-db
echo "demo-password" | run user add demo demo@example.test --password-stdin
run hostname add demo "home.$zone" "$zone"

query="hostname=home.$zone&myip=192.0.2.42,2001:db8::42"
echo
echo "==> GET /nic/update?$query as CGI, Basic auth demo:demo-password"
env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SCRIPT_NAME=/nic/update \
  QUERY_STRING="$query" REMOTE_ADDR=127.0.0.1 \
  HTTP_AUTHORIZATION="Basic $(printf 'demo:demo-password' | base64)" \
  DDNS_CGI_CONFIG="$work/config.toml" "$bin"
echo
echo "==> the DNS answer"
kdig @127.0.0.1 -p "$KNOT_PORT" "home.$zone" A +noall +answer
kdig @127.0.0.1 -p "$KNOT_PORT" "home.$zone" AAAA +noall +answer
