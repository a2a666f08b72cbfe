# Shell helpers shared by the demo and the benchmark scripts. Source it; it defines:
#   start_knot DIR ZONE SECRET   start a throwaway knotd for ZONE on a random loopback port,
#                                accepting updates signed with hmac-sha256 key `ddns-key`;
#                                sets KNOT_PORT and KNOT_PID (runs as `knot` when root); the
#                                key, ACL and zone are the shipped contrib/knot/ddns-cgi.conf,
#                                the zone file contrib/knot/dyn.example.com.zone unless a
#                                DIR/ZONE.zone written beforehand is to be served as it is
#   stop_knot                    kill it
#   await_ready PID PROBE...     poll PROBE until it succeeds (0) or PID dies / 5 s pass, in
#                                which case PID is killed and reaped (1)
#   write_config FILE DB PORT ZONE SECRET [EXTRA]   a minimal ddns-cgi config

start_knot() {
  local dir="$1" zone="$2" secret="$3" try
  mkdir -p "$dir"
  [ -f "$dir/$zone.zone" ] || cp contrib/knot/dyn.example.com.zone "$dir/$zone.zone"
  # The shipped snippet with this zone and key; base64 has no `|`.
  sed -e "s|REPLACE-WITH-BASE64-SECRET|$secret|" -e "s|dyn\.example\.com|$zone|g" \
    contrib/knot/ddns-cgi.conf >"$dir/ddns-cgi.conf"
  for try in 1 2 3 4 5; do
    KNOT_PORT=$((20000 + RANDOM % 40000))
    cat >"$dir/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$KNOT_PORT
    rundir: "$dir"
$( [ "$(id -u)" -eq 0 ] && echo "    user: knot:knot" )
database:
    storage: "$dir"
log:
  - target: "$dir/knot.log"
    any: info
template:
  - id: default
    storage: "$dir"
    zonefile-sync: -1
    journal-content: all
include: "$dir/ddns-cgi.conf"
CONF
    if [ "$(id -u)" -eq 0 ]; then chown -R knot:knot "$dir"; chmod 755 "$dir" "$(dirname "$dir")"; fi
    knotd -c "$dir/knot.conf" >"$dir/stdout.log" 2>&1 &
    KNOT_PID=$!
    await_ready "$KNOT_PID" knot_answers "$zone" && return 0
    KNOT_PID=""
  done
  echo "knotd did not start:" >&2
  cat "$dir"/*.log >&2
  return 1
}

knot_answers() {
  kdig +timeout=1 +retry=0 @127.0.0.1 -p "$KNOT_PORT" "$1" SOA +short 2>/dev/null | grep -q hostmaster
}

await_ready() {
  local pid="$1"
  shift
  for _ in $(seq 50); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

stop_knot() {
  if [ -n "${KNOT_PID:-}" ]; then
    kill "$KNOT_PID" 2>/dev/null || true
    wait "$KNOT_PID" 2>/dev/null || true
    KNOT_PID=""
  fi
}

write_config() {
  local file="$1" db="$2" port="$3" zone="$4" secret="$5" extra="${6:-}"
  cat >"$file" <<CONF
[database]
path = "$db"

[dns]
server = "127.0.0.1:$port"
tsig_key = "hmac-sha256:ddns-key.:$secret"

[[zones]]
name = "$zone"
$extra
CONF
  chmod 600 "$file"
}
