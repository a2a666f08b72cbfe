#!/usr/bin/env bash
# Soak and correctness of `ddns-cgi fastcgi` under load: nginx on loopback in front of it
# (the shipped location file), a real Knot behind it, and wrk driving N requests (default
# 100,000) of mixed flows from 8 keep-alive connections on 64 hostnames: token and password
# auth (the password cache on), `good` and `nochg` (each update picks one of 4 addresses),
# and 1 % wrong passwords (`badauth`, each a full Argon2 run at the default cost). Half-way
# through, one storm (issue 25): SOAK_STORM_HOSTS (default 2,000) more hostnames, each with its
# own token (made by `hostname import` before the warm-up), each sent 2 new addresses from 256
# keep-alive connections at once (benches/storm.lua, as scripts/bench.sh's storm), every
# answer `good`; the figures after the run include it.
# It checks, and exits non-zero unless all hold:
#   - resident memory after the run within 10 % of its value after the first 1,000 requests,
#     and no more open file descriptors or database connections than then (with the storm:
#     than the pool's bound, a connection per worker and the server's own, which a storm
#     reaches where 8 connections may not);
#   - no answer `911` or `dnserr`, and no status other than 200 and 401;
#   - a DNS query of a random host, polled all through the run, always sees one address;
#   - after the run every host's A record equals its row.
# Usage: scripts/soak.sh [N] [BINARY]   (BINARY defaults to a release build of this tree;
# SOAK_WORKERS sets `--workers`, default 8). The server runs with the environment of the
# shipped nginx/ddns-cgi.service (MALLOC_MMAP_THRESHOLD_: glibc keeps freed Argon2 blocks,
# 19 MiB each, in its arenas otherwise; MALLOC_ARENA_MAX: an arena per worker thread grows
# memory for minutes); benches/history/ has runs with and without them.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
bin="${2:-}"
export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"
source scripts/lib.sh
for tool in wrk nginx knotd kdig jq; do
  command -v "$tool" >/dev/null || { echo "soak.sh needs $tool" >&2; exit 2; }
done
if [ -z "$bin" ]; then
  cargo build --release --locked --quiet
  bin="$PWD/target/release/ddns-cgi"
fi
work="$(mktemp -d)"
chmod 755 "$work"
fcgi_pid="" nginx_pid="" poll_pid=""
cleanup() {
  for pid in "$poll_pid" "$nginx_pid" "$fcgi_pid"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  stop_knot
  rm -rf "$work"
}
trap cleanup EXIT

zone="soak.example.test"
secret="$(head -c 32 /dev/urandom | base64)"
start_knot "$work/knot" "$zone" "$secret"
# One client address sends everything here, so the rate limit is off; `[log]` at warn keeps
# the log to what matters over 100,000 requests.
write_config "$work/config.toml" "$work/ddns.db" "$KNOT_PORT" "$zone" "$secret" \
  $'[rate_limit]\nenabled = false\n\n[log]\nlevel = "warn"'
ddns() { "$bin" --config "$work/config.toml" "$@"; }
ddns init-db >/dev/null
echo "soak-password" | ddns user add soak soak@example.test --password-stdin >/dev/null
n_hosts=64
: >"$work/auth.txt"
for i in $(seq 0 $((n_hosts - 1))); do
  ddns hostname add soak "h$i.$zone" "$zone" >/dev/null
  token="$(ddns hostname token "h$i.$zone")"
  printf 'h%s.%s Basic %s\n' "$i" "$zone" "$(printf '%s' "h$i.$zone:$token" | base64 -w0)" >>"$work/auth.txt"
done
# The storm's hosts and tokens, in one transaction; SOAK_STORM_HOSTS=0 leaves the storm out.
storm_hosts="${SOAK_STORM_HOSTS:-2000}" storm_connections=256
if [ "$storm_hosts" -gt 0 ]; then
  awk -v n="$storm_hosts" -v z="$zone" 'BEGIN {
    for (i = 1; i <= n; i++) printf "{\"user\":\"soak\",\"hostname\":\"s%d.%s\",\"zone\":\"%s\"}\n", i, z, z
  }' | ddns hostname import - | jq -r '"\(.hostname | rtrimstr("."))\t\(.token)"' >"$work/storm.txt"
  [ "$(wc -l <"$work/storm.txt")" = "$storm_hosts" ] || { echo "\`hostname import\` of the storm's hosts failed" >&2; exit 2; }
fi
password="Basic $(printf 'soak:soak-password' | base64 -w0)"
wrong="Basic $(printf 'soak:wrong-password' | base64 -w0)"

# The shipped unit's environment, so memory figures compare with a deployed server; `env`
# execs the server, so $! is its pid.
mapfile -t unit_env < <(service_environment nginx/ddns-cgi.service)
echo "== \`ddns-cgi fastcgi\` environment as nginx/ddns-cgi.service: ${unit_env[*]:-(none)}"
env "${unit_env[@]}" "$bin" --config "$work/config.toml" fastcgi --socket "$work/fastcgi.sock" --socket-mode 0666 \
  --workers "${SOAK_WORKERS:-8}" 2>"$work/fastcgi.log" &
fcgi_pid=$!
await_ready "$fcgi_pid" test -S "$work/fastcgi.sock" || { cat "$work/fastcgi.log"; exit 2; }

port=$((20000 + RANDOM % 40000))
mkdir -p "$work/nginx"
cp /etc/nginx/fastcgi_params "$work/nginx/"
cp nginx/ddns-cgi-fastcgi.conf "$work/nginx/"
sed "s|unix:/run/ddns-cgi/fastcgi.sock|unix:$work/fastcgi.sock|" nginx/ddns-cgi-upstream.conf >"$work/nginx/upstream.conf"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  fastcgi_temp_path $work/nginx/fastcgi;
  proxy_temp_path $work/nginx/proxy;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  include $work/nginx/upstream.conf;
  server {
    listen 127.0.0.1:$port;
    include $work/nginx/ddns-cgi-fastcgi.conf;
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
await_ready "$nginx_pid" curl -s -o /dev/null "http://127.0.0.1:$port/" || { cat "$work/nginx/error.log"; exit 2; }

# Every host starts with an address, so from here on DNS must always show exactly one.
while read -r fqdn auth; do
  curl -s -H "Authorization: $auth" "http://127.0.0.1:$port/nic/update?hostname=$fqdn&myip=198.51.100.1" |
    grep -q '^good' || { echo "priming $fqdn failed" >&2; exit 2; }
done <"$work/auth.txt"

cat >"$work/mixed.lua" <<'LUA'
-- Mixed flows; counts the answers of all threads.
local hosts, auths = {}, {}
for line in io.lines(os.getenv("SOAK_AUTH")) do
  local fqdn, auth = line:match("^(%S+) (.+)$")
  hosts[#hosts + 1] = fqdn
  auths[#auths + 1] = auth
end
local password, wrong = os.getenv("SOAK_PASSWORD"), os.getenv("SOAK_WRONG")
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
  n, good, nochg, badauth, e911, dnserr, other = 0, 0, 0, 0, 0, 0, 0
end
function request()
  local i = math.random(#hosts)
  local path = "/nic/update?hostname=" .. hosts[i] .. "&myip=198.51.100." .. math.random(1, 4)
  local r = math.random(100)
  local auth = auths[i]
  if r == 1 then auth = wrong elseif r <= 45 then auth = password end
  return wrk.format("GET", path, { ["Authorization"] = auth })
end
function response(status, headers, body)
  n = n + 1
  if body:find("^good") then good = good + 1
  elseif body:find("^nochg") then nochg = nochg + 1
  elseif status == 401 and body:find("^badauth") then badauth = badauth + 1
  elseif body:find("^911") then e911 = e911 + 1
  elseif body:find("^dnserr") then dnserr = dnserr + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local t = { n = 0, good = 0, nochg = 0, badauth = 0, e911 = 0, dnserr = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  io.write(string.format("answers n=%d good=%d nochg=%d badauth=%d 911=%d dnserr=%d other=%d\n",
    t.n, t.good, t.nochg, t.badauth, t.e911, t.dnserr, t.other))
  io.write(string.format("latency p50=%.1fms p99=%.1fms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA

connections=8
total=0
drive() { # UNTIL SECONDS: runs wrk for SECONDS at a time until UNTIL requests were answered in
  # all (wrk runs for a duration, not a count); prints each run's summary and our counts
  local out="$work/wrk.txt"
  while [ "$total" -lt "$1" ]; do
    SOAK_AUTH="$work/auth.txt" SOAK_PASSWORD="$password" SOAK_WRONG="$wrong" \
      wrk -t "$connections" -c "$connections" -d "$2" --latency -s "$work/mixed.lua" "http://127.0.0.1:$port/" \
      >"$out" 2>&1 || { cat "$out"; exit 2; }
    grep -E "requests in|answers|latency p50|Socket errors" "$out"
    grep -q "911=0 dnserr=0 other=0" "$out" || fail "an answer was 911, dnserr or unexpected"
    ! grep -q "Socket errors" "$out" || fail "socket errors"
    total=$((total + $(sed -n 's/^answers n=\([0-9]*\).*/\1/p' "$out")))
  done
}
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$fcgi_pid/status"; }
# Sockets are the connections nginx holds open to us (its upstream keep-alive, up to the
# client connections): they come and go with the load, so they are bounded, not compared.
fds() { for f in /proc/"$fcgi_pid"/fd/*; do readlink "$f"; done | grep -vc '^socket:' || true; }
sockets() { for f in /proc/"$fcgi_pid"/fd/*; do readlink "$f"; done | grep -c '^socket:' || true; }
fd_list() { for f in /proc/"$fcgi_pid"/fd/*; do readlink "$f"; done | sed 's/[0-9]\{3,\}/N/g' | sort | uniq -c; }
db_conns() { for f in /proc/"$fcgi_pid"/fd/*; do readlink "$f"; done | grep -c "/ddns.db$" || true; }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

echo "== warm-up: the first 1,000 requests"
drive 1000 1s
sleep 2 # let idle connections and threads settle, as after the run
rss1=$(rss) fds1=$(fds) db1=$(db_conns)
fd_list >"$work/fds1.txt"
first=$total
echo "after $first: rss ${rss1} KiB, ${fds1} fds besides $(sockets) sockets, ${db1} database connections"

# The DNS poller: one random host at a time, all through the run.
(
  bad=0 polls=0
  while :; do
    i=$((RANDOM % n_hosts))
    answer="$(kdig +timeout=2 +retry=1 @127.0.0.1 -p "$KNOT_PORT" "h$i.$zone" A +short 2>/dev/null)"
    polls=$((polls + 1))
    if [ "$(printf '%s\n' "$answer" | grep -c '^198\.51\.100\.')" -ne 1 ]; then
      bad=$((bad + 1))
      echo "h$i: '$answer'" >>"$work/poll-bad.txt"
    fi
    # Renamed into place: the poller is killed at any moment, and a half-written file would
    # end the script at its `read` below.
    echo "$polls $bad" >"$work/poll.tmp" && mv "$work/poll.tmp" "$work/poll.txt"
  done
) &
poll_pid=$!

echo "== run: up to $n requests in all, with a storm half-way"
started=$(date +%s)
drive $((n / 2)) 20s
if [ "$storm_hosts" -gt 0 ]; then
  echo "== the storm: $storm_hosts hosts, 2 new addresses each, $storm_connections connections"
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  storm_wrk "$work/storm-wrk.txt" "http://127.0.0.1:$port/nic/update" 8 "$storm_connections" "$work/storm.txt" 2 0 \
    $((storm_hosts / 50 + 60)) || { cat "$work/storm-wrk.txt"; exit 2; }
  grep -E "requests in|^RESULT|^SAMPLE" "$work/storm-wrk.txt"
  grep -q "unexpected=0 n911=0 socket_errors=0 complete=1" "$work/storm-wrk.txt" ||
    fail "the storm: an answer was not \`good\`, timed out, or some host had not its answers"
  # Where the storm leaves the memory: the rest of the run shows whether it grows from there.
  echo "after the storm: rss $(rss) KiB"
fi
drive "$n" 20s
elapsed=$(($(date +%s) - started))
kill "$poll_pid" 2>/dev/null && wait "$poll_pid" 2>/dev/null || true
poll_pid=""
sleep 2
rss2=$(rss) fds2=$(fds) db2=$(db_conns)
fd_list >"$work/fds2.txt"
echo "after $total: rss ${rss2} KiB, ${fds2} fds besides $(sockets) sockets, ${db2} database connections; $((total - first)) requests in ${elapsed} s"
read -r polls bad <"$work/poll.txt"
echo "DNS poll: $polls queries, $bad without exactly one address"
[ "$bad" -eq 0 ] || { head "$work/poll-bad.txt"; fail "a query saw a host without its address or with two"; }
[ "$rss2" -le $((rss1 * 110 / 100)) ] || fail "resident memory grew from $rss1 to $rss2 KiB"
[ "$(sockets)" -le $((2 * connections + 2)) ] || fail "$(sockets) sockets open for $connections connections"
# A worker opens its database connection the first time it runs and keeps it (3 descriptors:
# the database, -wal, -shm): up to one per worker besides the server's own. The storm runs every
# worker at once where the warm-up's 8 connections may not have, so with a storm the bound is
# that pool's (more would be a leak), without one the warm-up's count.
db_bound=$db1
[ "$storm_hosts" -gt 0 ] && [ $((${SOAK_WORKERS:-8} + 1)) -gt "$db1" ] && db_bound=$((${SOAK_WORKERS:-8} + 1))
fd_bound=$((fds1 + 3 * (db_bound - db1)))
[ "$fds2" -le "$fd_bound" ] || { diff "$work/fds1.txt" "$work/fds2.txt"; fail "open file descriptors grew from $fds1 to $fds2 (bound $fd_bound)"; }
[ "$db2" -le "$db_bound" ] || fail "database connections grew from $db1 to $db2 (bound $db_bound: a worker's each and the server's own)"

mismatch=0
while read -r fqdn ipv4; do
  dns="$(kdig +timeout=2 @127.0.0.1 -p "$KNOT_PORT" "$fqdn" A +short | sort | paste -sd,)"
  if [ "$dns" != "$ipv4" ]; then
    echo "$fqdn: row $ipv4, DNS $dns"
    mismatch=$((mismatch + 1))
  fi
done < <(ddns hostname list --json | jq -r '.[] | "\(.hostname) \(.ipv4)"')
echo "rows against DNS: $mismatch of $((n_hosts + storm_hosts)) differ"
[ "$mismatch" -eq 0 ] || fail "DNS and rows differ"
grep -E "panicked|ERROR" "$work/fastcgi.log" | head -5 || true
wal="$(stat -c %s "$work/ddns.db-wal" 2>/dev/null || echo 0)"
echo "WAL after the run: $wal bytes"
if [ "$failures" -eq 0 ]; then echo "soak: ok"; else echo "soak: $failures failures"; exit 1; fi
