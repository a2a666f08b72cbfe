#!/usr/bin/env bash
# Start-up cost of one CGI request: runs N requests (default 300) without credentials against
# a fresh database (config load, database open, `badauth` answer; no DNS) and prints the
# mean wall time per request for each binary given (default: the release build). Compare
# builds to see what a change costs CGI mode, e.g. the FastCGI code that CGI must not pay for.
# Usage: scripts/bench-startup.sh [N] [BINARY...]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-300}"
shift || true
bins=("$@")
if [ "${#bins[@]}" -eq 0 ]; then
  cargo build --release --locked --quiet
  bins=("$PWD/target/release/ddns-cgi")
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/config.toml" <<CONF
[database]
path = "$work/ddns.db"
[dns]
server = "127.0.0.1:53"
tsig_key = "hmac-sha256:ddns-key.:$(head -c 32 /dev/urandom | base64)"
[[zones]]
name = "dyn.example.test"
CONF
"${bins[0]}" --config "$work/config.toml" init-db >/dev/null
for bin in "${bins[@]}"; do
  start=$(date +%s%N)
  for _ in $(seq "$n"); do
    env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SCRIPT_NAME=/nic/update \
      QUERY_STRING=hostname=home.dyn.example.test REMOTE_ADDR=192.0.2.1 \
      DDNS_CGI_CONFIG="$work/config.toml" "$bin" </dev/null >/dev/null 2>&1
  done
  end=$(date +%s%N)
  size=$(stat -c %s "$bin")
  awk -v t=$((end - start)) -v n="$n" -v b="$bin" -v s="$size" \
    'BEGIN { printf "%-60s %8.3f ms/request  (%d requests, binary %.1f MiB)\n", b, t / n / 1e6, n, s / 1048576 }'
done
