#!/usr/bin/env bash
# Benchmark of the expiry run (not a test): 10,000 expired hostnames in one zone on a
# throwaway Knot, then one `ddns-cgi expire`. Prints the run's wall time and summary line
# (hostnames expired, zones, DNS messages sent). Records are published in bulk through the
# zone file and rows inserted with one SQL statement, so only the expiry itself is timed.
# Usage: scripts/bench-expire.sh [N_HOSTS]   (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"
n_hosts="${1:-10000}"

for p in knotd kdig python3; do
  command -v "$p" >/dev/null || { echo "$p is missing: run scripts/install-deps.sh"; exit 2; }
done

# BENCH_BIN: a binary already built (scripts/bench.sh --short passes its debug build).
bin="${BENCH_BIN:-}"
if [ -z "$bin" ]; then
  echo "==> building ddns-cgi (release)"
  cargo build --release --locked --quiet
  bin="$PWD/target/release/ddns-cgi"
fi

work="$(mktemp -d)"
source scripts/lib.sh
trap 'stop_knot; rm -rf "$work"' EXIT

zone="dyn.example.test"
secret="$(head -c 32 /dev/urandom | base64)"
mkdir -p "$work/knot"
{
  printf '$TTL 300\n@ SOA ns1.%s. hostmaster.%s. 1 3600 600 86400 60\n@ NS ns1.%s.\nns1 A 127.0.0.1\n' "$zone" "$zone" "$zone"
  for i in $(seq "$n_hosts"); do
    printf 'host-%d 60 A 10.%d.%d.%d\n' "$i" $((i / 65536 % 256)) $((i / 256 % 256)) $((i % 256))
  done
} >"$work/knot/$zone.zone"

# Knot has loaded the whole zone file before it answers the SOA query start_knot waits for.
start_knot "$work/knot" "$zone" "$secret"
port="$KNOT_PORT"
echo "==> Knot serves $zone on 127.0.0.1:$port with $n_hosts A records"

cat >"$work/config.toml" <<CONF
[database]
path = "$work/ddns.db"

[dns]
server = "127.0.0.1:$port"
tsig_key = "hmac-sha256:ddns-key.:$secret"

[[zones]]
name = "$zone"

[auth]
argon2_m_kib = 64
argon2_t = 1
CONF
chmod 600 "$work/config.toml"
"$bin" --config "$work/config.toml" init-db >/dev/null
echo "bench-password" | "$bin" --config "$work/config.toml" user add bench bench@example.test --password-stdin >/dev/null
python3 - "$work/ddns.db" "$zone" "$n_hosts" <<'PY'
import sqlite3, sys
db, zone, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = sqlite3.connect(db)
uid = conn.execute("SELECT id FROM users WHERE name = 'bench'").fetchone()[0]
rows = [(f"host-{i}.{zone}", zone, uid, f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}") for i in range(1, n + 1)]
conn.executemany(
    "INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, ipv4, last_update, created_at)"
    " VALUES (?, ?, ?, 60, 60, ?, 0, 0)",
    rows,
)
conn.commit()
PY
echo "==> $n_hosts hostnames last updated at the epoch, expiry_ttl 60"

start=$EPOCHREALTIME
summary="$("$bin" --config "$work/config.toml" expire)"
end=$EPOCHREALTIME
echo "$summary"
awk -v s="$start" -v e="$end" -v n="$n_hosts" 'BEGIN { printf "wall time: %.3f s for %d hostnames\n", e - s, n }'

left=0
for i in 1 $((n_hosts / 2)) "$n_hosts"; do
  if [ -n "$(kdig @127.0.0.1 -p "$port" "host-$i.$zone" A +short)" ]; then left=$((left + 1)); fi
done
echo "records still answering among host-1, host-$((n_hosts / 2)), host-$n_hosts: $left"
[ "$left" -eq 0 ]
