#!/usr/bin/env bash
# Per-request cost of ddns-cgi as CGI, side by side in one run, against a real Knot:
#   - process floor: spawning /bin/true
#   - ddns-cgi answering 404 (start-up: config + database open, no auth)
#   - ddns-cgi `nochg` with cheap Argon2 (start-up + auth lookup + database write)
#   - ddns-cgi `nochg` with the default Argon2id cost (what production pays per request)
#   - ddns-cgi `good` with the default cost (adds one TSIG-signed RFC 2136 round trip)
#   - the reference setup's way (Knot + WSGI blog post): one `knsupdate` process per update
# Prints mean milliseconds per request, the ratio to the knsupdate reference, and peak RSS.
# Usage: scripts/bench-cgi.sh [N]   (N requests per case, default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}"
source scripts/install-deps.sh time
export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"
source scripts/lib.sh

cargo build --release --locked --quiet
bin="$PWD/target/release/ddns-cgi"
work="$(mktemp -d)"
trap 'stop_knot; rm -rf "$work"' EXIT

zone="bench.example.test"
secret="$(head -c 32 /dev/urandom | base64)"
start_knot "$work/knot" "$zone" "$secret"
cheap=$'[auth]\nargon2_m_kib = 64\nargon2_t = 1\nargon2_p = 1\n[rate_limit]\nenabled = false'
write_config "$work/default.toml" "$work/ddns.db" "$KNOT_PORT" "$zone" "$secret" $'[rate_limit]\nenabled = false'
write_config "$work/cheap.toml" "$work/cheap.db" "$KNOT_PORT" "$zone" "$secret" "$cheap"
for cfg in default cheap; do
  "$bin" --config "$work/$cfg.toml" init-db >/dev/null
  echo "bench-password" | "$bin" --config "$work/$cfg.toml" user add bench bench@example.test --password-stdin >/dev/null
  "$bin" --config "$work/$cfg.toml" hostname add bench "h.$zone" "$zone" >/dev/null
done
auth="Basic $(printf 'bench:bench-password' | base64)"

cgi() { # CONFIG SCRIPT_NAME QUERY
  env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SCRIPT_NAME="$2" QUERY_STRING="$3" \
    REMOTE_ADDR=127.0.0.1 HTTP_AUTHORIZATION="$auth" DDNS_CGI_CONFIG="$work/$1.toml" "$bin" 2>/dev/null
}
# Prime: the first update is `good`, later identical ones are `nochg`.
cgi default /nic/update "hostname=h.$zone&myip=192.0.2.1" | grep -q "good" || { echo "priming update failed"; exit 1; }
cgi cheap /nic/update "hostname=h.$zone&myip=192.0.2.1" >/dev/null
cgi cheap /nic/update "hostname=h.$zone&myip=192.0.2.1" | grep -q "nochg" || { echo "nochg expected"; exit 1; }

# The reference changes the address every time, as the `good` case does: an update that
# changes nothing is a no-op for Knot and would flatter it.
knsupdate_change() {
  printf 'server 127.0.0.1 %s\nzone %s.\nupdate delete k.%s. A\nupdate add k.%s. 60 A 192.0.2.%s\nsend\n' \
    "$KNOT_PORT" "$zone" "$zone" "$zone" $((RANDOM % 200 + 2)) |
    knsupdate -y "hmac-sha256:ddns-key:$secret"
}

ms_per() { # label, command...: runs the command n times, prints mean ms
  local label="$1"; shift
  local t0 t1
  t0=$(date +%s%N)
  for ((i = 0; i < n; i++)); do "$@" >/dev/null; done
  t1=$(date +%s%N)
  echo "$label $(( (t1 - t0) / n / 1000 ))"
}
good_update() { cgi default /nic/update "hostname=h.$zone&myip=192.0.2.$((RANDOM % 200 + 2))"; }

results="$work/results"
{
  ms_per floor /bin/true
  ms_per notfound cgi cheap /other ""
  ms_per nochg_cheap cgi cheap /nic/update "hostname=h.$zone&myip=192.0.2.1"
  ms_per nochg_default cgi default /nic/update "hostname=h.$zone&myip=192.0.2.1"
  ms_per good_default good_update
  ms_per knsupdate knsupdate_change
} >"$results"

rss() { # peak RSS in KiB of one request
  env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SCRIPT_NAME=/nic/update QUERY_STRING="$2" \
    REMOTE_ADDR=127.0.0.1 HTTP_AUTHORIZATION="$auth" DDNS_CGI_CONFIG="$work/$1.toml" \
    /usr/bin/time -f "%M" "$bin" 2>&1 >/dev/null | tail -1
}
rss_nochg=$(rss default "hostname=h.$zone&myip=192.0.2.1")
rss_good=$(rss default "hostname=h.$zone&myip=192.0.2.250")
printf 'server 127.0.0.1 %s\nzone %s.\nupdate add k.%s. 60 A 192.0.2.1\nsend\n' "$KNOT_PORT" "$zone" "$zone" >"$work/upd.txt"
rss_kns=$( { /usr/bin/time -f "%M" knsupdate -y "hmac-sha256:ddns-key:$secret" "$work/upd.txt" >/dev/null; } 2>&1 | tail -1)
ref=$(awk '$1 == "knsupdate" { print $2 }' "$results")

echo
echo "ddns-cgi CGI benchmark: $n requests per case, $(nproc) cores, $(date -u +%Y-%m-%d)"
echo "binary: $(du -k "$bin" | cut -f1) KiB (release, LTO, stripped)"
printf '%-52s %12s %14s\n' "case" "us/request" "vs knsupdate"
while read -r label us; do
  case "$label" in
    floor) desc="process floor (/bin/true)" ;;
    notfound) desc="ddns-cgi 404 (config + database open)" ;;
    nochg_cheap) desc="ddns-cgi nochg, Argon2 m=64KiB t=1" ;;
    nochg_default) desc="ddns-cgi nochg, Argon2id default (19 MiB, t=2)" ;;
    good_default) desc="ddns-cgi good (TSIG UPDATE to Knot), default Argon2" ;;
    knsupdate) desc="reference: one knsupdate process per update" ;;
  esac
  printf '%-52s %12s %13sx\n' "$desc" "$us" "$(awk -v a="$us" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')"
done <"$results"
echo
echo "peak RSS: ddns-cgi nochg ${rss_nochg} KiB, ddns-cgi good ${rss_good} KiB, knsupdate ${rss_kns} KiB"
