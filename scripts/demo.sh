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
knot_pid=""
cleanup() {
  [ -n "$knot_pid" ] && kill "$knot_pid" 2>/dev/null && wait "$knot_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

zone="dyn.example.test"
secret="$(head -c 32 /dev/urandom | base64)"
mkdir -p "$work/knot"
cat >"$work/knot/$zone.zone" <<ZONE
\$TTL 300
@    SOA ns1.$zone. hostmaster.$zone. 1 3600 600 86400 60
@    NS  ns1.$zone.
ns1  A   127.0.0.1
ZONE

start_knot() {
  port=$((20000 + RANDOM % 40000))
  cat >"$work/knot/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$port
    rundir: "$work/knot"
$( [ "$(id -u)" -eq 0 ] && echo "    user: knot:knot" )
database:
    storage: "$work/knot"
log:
  - target: "$work/knot/knot.log"
    any: info
key:
  - id: ddns-key
    algorithm: hmac-sha256
    secret: $secret
acl:
  - id: ddns-update
    key: ddns-key
    action: update
zone:
  - domain: $zone
    storage: "$work/knot"
    file: "$zone.zone"
    acl: ddns-update
CONF
  [ "$(id -u)" -eq 0 ] && chown -R knot:knot "$work/knot" && chmod 755 "$work"
  knotd -c "$work/knot/knot.conf" >"$work/knot/stdout.log" 2>&1 &
  knot_pid=$!
  for _ in $(seq 50); do
    if kdig +timeout=1 +retry=0 @127.0.0.1 -p "$port" "$zone" SOA +short 2>/dev/null | grep -q ns1; then
      return 0
    fi
    kill -0 "$knot_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$knot_pid" 2>/dev/null || true
  wait "$knot_pid" 2>/dev/null || true
  knot_pid=""
  return 1
}
for _ in 1 2 3 4 5; do start_knot && break; done
[ -n "$knot_pid" ] || { echo "knotd did not start:"; cat "$work/knot/"*.log; exit 1; }
echo "==> Knot serves $zone on 127.0.0.1:$port"

cat >"$work/config.toml" <<CONF
[database]
path = "$work/ddns.db"

[dns]
server = "127.0.0.1:$port"
tsig_key = "hmac-sha256:ddns-key.:$secret"

[[zones]]
name = "$zone"
CONF
chmod 600 "$work/config.toml"

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
kdig @127.0.0.1 -p "$port" "home.$zone" A +noall +answer
kdig @127.0.0.1 -p "$port" "home.$zone" AAAA +noall +answer
