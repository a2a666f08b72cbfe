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
#   start_bind DIR ZONE SECRET   the same for BIND (named): the shipped contrib/bind snippet,
#                                key file and zone file, as tests/integration/util/dnsserver.rs
#                                renders them; sets BIND_PORT and BIND_PID (runs as `bind`
#                                when root, as the tests do)
#   stop_bind                    kill it
#   start_pdns DIR ZONE SECRET   the same for PowerDNS (pdns_server, gsqlite3): a fresh
#                                database from Debian's schema, the shipped contrib/powerdns
#                                snippet and zone script, as tests/integration/util/dnsserver/
#                                powerdns.rs renders them; sets PDNS_PORT and PDNS_PID (runs
#                                as `pdns` when root)
#   stop_pdns                    kill it
#   start_postgres DIR           a throwaway PostgreSQL cluster in DIR (initdb, trust
#                                authentication), listening only on a Unix socket in DIR, as
#                                tests/integration/util/pg.rs starts it; sets PG_PORT (the
#                                socket's number) and PG_BIN (runs as `postgres` when root)
#   stop_postgres                stop it (fast shutdown)
#   start_mariadb DIR            a throwaway MariaDB in DIR (mariadb-install-db, root without a
#                                password on the socket), listening only on a Unix socket in
#                                DIR, as tests/integration/util/mariadb.rs starts it; sets
#                                MARIADB_SOCKET (runs as `mysql` when root)
#   stop_mariadb                 stop it (SIGTERM, a clean shutdown)
#   storm_wrk OUT URL THREADS CONNECTIONS FLOW ROUNDS SEED MAX_SECONDS   the storm: wrk with
#                                benches/storm.lua (its FLOW file: FQDN, token per line), stopped
#                                (SIGINT) as soon as every thread has its ROUNDS answers per host,
#                                or after MAX_SECONDS; output in OUT, wrk's CPU ticks (user +
#                                system, read before it stops) in STORM_WRK_TICKS
#   service_environment UNIT     the NAME=VALUE pairs of a systemd unit's `Environment=`
#                                lines but DDNS_CGI_CONFIG, one a line: the FastCGI server of
#                                the scripts runs with the shipped unit's environment

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
    await_ready "$KNOT_PID" soa_answers "$KNOT_PORT" "$zone" && return 0
    KNOT_PID=""
  done
  echo "knotd did not start:" >&2
  cat "$dir"/*.log >&2
  return 1
}

# Whether the server on 127.0.0.1:PORT serves ZONE's SOA (the test zone's, by its contact).
soa_answers() { # PORT ZONE
  kdig +timeout=1 +retry=0 @127.0.0.1 -p "$1" "$2" SOA +short 2>/dev/null | grep -q hostmaster
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

start_bind() {
  local dir="$1" zone="$2" secret="$3" try named user_args=()
  named="$(command -v named)" || { echo "named is missing (Debian package bind9)" >&2; return 1; }
  mkdir -p "$dir"
  cp contrib/bind/dyn.example.com.zone "$dir/$zone.zone"
  # The shipped snippet and key file with this run's zone, key and directory; base64 has no `|`.
  sed -e "s|/etc/bind/|$dir/|g" -e "s|/var/lib/bind/|$dir/|g" -e "s|dyn\.example\.com|$zone|g" \
    contrib/bind/named.conf.ddns-cgi >"$dir/named.conf.ddns-cgi"
  sed -e "s|REPLACE-WITH-BASE64-SECRET|$secret|" contrib/bind/ddns-key.key >"$dir/ddns-key.key"
  [ "$(id -u)" -eq 0 ] && user_args=(-u bind)
  for try in 1 2 3 4 5; do
    BIND_PORT=$((20000 + RANDOM % 40000))
    cat >"$dir/named.conf" <<CONF
options {
  directory "$dir";
  listen-on port $BIND_PORT { 127.0.0.1; };
  listen-on-v6 { none; };
  pid-file "$dir/named.pid";
  session-keyfile "$dir/session.key";
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
logging {
  channel file { file "$dir/named.log"; severity info; print-time yes; };
  category default { file; };
};
include "$dir/named.conf.ddns-cgi";
CONF
    if [ "$(id -u)" -eq 0 ]; then chown -R bind:bind "$dir"; chmod 755 "$dir" "$(dirname "$dir")"; fi
    "$named" -f -c "$dir/named.conf" "${user_args[@]}" >"$dir/stdout.log" 2>&1 &
    BIND_PID=$!
    await_ready "$BIND_PID" soa_answers "$BIND_PORT" "$zone" && return 0
    BIND_PID=""
  done
  echo "named did not start:" >&2
  cat "$dir"/*.log >&2
  return 1
}

stop_bind() {
  if [ -n "${BIND_PID:-}" ]; then
    kill "$BIND_PID" 2>/dev/null || true
    wait "$BIND_PID" 2>/dev/null || true
    BIND_PID=""
  fi
}

# What PowerDNS needs beyond pdns_server: the gsqlite3 backend's schema and the sqlite3 client.
PDNS_SCHEMA=/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql
pdns_missing() { # prints the missing Debian package, if any
  command -v pdns_server >/dev/null || { echo pdns-server; return; }
  [ -f "$PDNS_SCHEMA" ] || { echo pdns-backend-sqlite3; return; }
  command -v sqlite3 >/dev/null || echo sqlite3
}

start_pdns() {
  local dir="$1" zone="$2" secret="$3" try missing user_conf=""
  missing="$(pdns_missing)"
  [ -z "$missing" ] || { echo "PowerDNS is missing (Debian package $missing)" >&2; return 1; }
  mkdir -p "$dir/pdns.d"
  cp contrib/powerdns/dyn.example.com.zone "$dir/$zone.zone"
  sed -e "s|/var/lib/powerdns/pdns.sqlite3|$dir/pdns.sqlite3|" contrib/powerdns/ddns-cgi.conf >"$dir/pdns.d/ddns-cgi.conf"
  sqlite3 "$dir/pdns.sqlite3" <"$PDNS_SCHEMA"
  chmod 600 "$dir/pdns.sqlite3" # it holds the TSIG secret
  [ "$(id -u)" -eq 0 ] && user_conf=$'setuid=pdns\nsetgid=pdns\n'
  # The shipped zone script with this zone, key and directory; each pdnsutil reads this
  # server's configuration (written first: pdnsutil finds the database through it).
  printf 'launch=\ninclude-dir=%s/pdns.d\n' "$dir" >"$dir/pdns.conf"
  sed -e "s|REPLACE-WITH-BASE64-SECRET|$secret|" -e "s|/etc/powerdns/|$dir/|g" -e "s|dyn\.example\.com|$zone|g" \
    -e "s|^pdnsutil |pdnsutil --config-dir=$dir |" contrib/powerdns/ddns-cgi-zone.sh >"$dir/zone.sh"
  # The rendered script holds the secret: gone once it ran.
  sh "$dir/zone.sh" >"$dir/zone.log" 2>&1 || { rm -f "$dir/zone.sh"; cat "$dir/zone.log" >&2; return 1; }
  rm -f "$dir/zone.sh"
  for try in 1 2 3 4 5; do
    PDNS_PORT=$((20000 + RANDOM % 40000))
    printf '%s' "local-address=127.0.0.1
local-port=$PDNS_PORT
socket-dir=$dir
${user_conf}guardian=no
daemon=no
disable-syslog=yes
security-poll-suffix=
launch=
include-dir=$dir/pdns.d
" >"$dir/pdns.conf"
    if [ "$(id -u)" -eq 0 ]; then chown -R pdns:pdns "$dir"; chmod 755 "$dir" "$(dirname "$dir")"; fi
    pdns_server --config-dir="$dir" >"$dir/stdout.log" 2>&1 &
    PDNS_PID=$!
    await_ready "$PDNS_PID" soa_answers "$PDNS_PORT" "$zone" && return 0
    PDNS_PID=""
  done
  echo "pdns_server did not start:" >&2
  cat "$dir/stdout.log" >&2
  return 1
}

stop_pdns() {
  if [ -n "${PDNS_PID:-}" ]; then
    kill "$PDNS_PID" 2>/dev/null || true
    wait "$PDNS_PID" 2>/dev/null || true
    PDNS_PID=""
  fi
}

# PostgreSQL's server programs (Debian keeps them outside PATH): the newest version's bin
# directory, or nothing.
postgres_bin_dir() {
  local d
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

# Runs a PostgreSQL server program as its user (PostgreSQL refuses root).
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  local dir="$1"
  PG_BIN="$(postgres_bin_dir)" || { echo "PostgreSQL's server is missing (Debian package postgresql)" >&2; return 1; }
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; chmod 755 "$(dirname "$dir")"; fi
  chmod 755 "$dir"
  as_postgres "$PG_BIN/initdb" --auth=trust --username=postgres --encoding=UTF8 --locale=C --no-sync \
    -D "$dir/data" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  # Only the Unix socket, so the port is just the socket's name and cannot be taken.
  PG_PORT=$((20000 + RANDOM % 40000))
  # synchronous_commit = off is PostgreSQL's counterpart of the synchronous = NORMAL that
  # ddns-cgi gives SQLite in WAL mode: a commit does not wait for its fsync, a crash of the
  # machine may lose the last commits but never corrupts. Everything else is the default.
  as_postgres "$PG_BIN/pg_ctl" start -w -t 60 -s -D "$dir/data" -l "$dir/server.log" \
    -o "-k $dir -p $PG_PORT -c listen_addresses= -c synchronous_commit=off" </dev/null ||
    { echo "postgres did not start:" >&2; cat "$dir/server.log" >&2; return 1; }
  PG_DIR="$dir"
}

stop_postgres() {
  if [ -n "${PG_DIR:-}" ]; then
    as_postgres "$PG_BIN/pg_ctl" stop -m fast -s -D "$PG_DIR/data" >/dev/null 2>&1 || true
    PG_DIR=""
  fi
}

start_mariadb() {
  local dir="$1" user=()
  [ -x /usr/sbin/mariadbd ] || { echo "MariaDB's server is missing (Debian package mariadb-server)" >&2; return 1; }
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown mysql:mysql "$dir"; chmod 755 "$(dirname "$dir")"; user=(--user=mysql); fi
  chmod 755 "$dir"
  mariadb-install-db --no-defaults "${user[@]}" --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; return 1; }
  MARIADB_SOCKET="$dir/mariadb.sock"
  # innodb_flush_log_at_trx_commit = 2 is MariaDB's counterpart of the synchronous = NORMAL
  # that ddns-cgi gives SQLite in WAL mode (and of PostgreSQL's synchronous_commit = off): a
  # commit is written but not flushed; a crash of the machine may lose the last second.
  # The character set and collation are Debian's defaults (50-server.cnf).
  /usr/sbin/mariadbd --no-defaults "${user[@]}" --datadir="$dir/data" --socket="$MARIADB_SOCKET" \
    --pid-file="$dir/mariadb.pid" --log-error="$dir/server.log" --skip-networking --skip-name-resolve \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci --innodb-flush-log-at-trx-commit=2 \
    --max-connections=2000 </dev/null >/dev/null 2>&1 &
  MARIADB_PID=$!
  MARIADB_DIR="$dir"
  local i
  for i in $(seq 600); do
    mariadb --no-defaults --socket="$MARIADB_SOCKET" --user=root -e 'SELECT 1' >/dev/null 2>&1 && return 0
    kill -0 "$MARIADB_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "mariadbd did not start:" >&2
  cat "$dir/server.log" >&2
  return 1
}

# Runs SQL on the throwaway MariaDB as root, given on stdin (a password in it stays out of the
# process listing).
mariadb_sql() {
  mariadb --no-defaults --socket="$MARIADB_SOCKET" --user=root --batch --skip-column-names <<<"$1"
}

stop_mariadb() {
  if [ -n "${MARIADB_PID:-}" ]; then
    kill "$MARIADB_PID" 2>/dev/null || true
    local i
    for i in $(seq 100); do kill -0 "$MARIADB_PID" 2>/dev/null || break; sleep 0.1; done
    MARIADB_PID=""
  fi
}

service_environment() {
  sed -n 's/^Environment=//p' "$1" | grep -v '^DDNS_CGI_CONFIG=' || true
}

# wrk runs for its -d whatever the script does; a storm is a fixed number of requests, so each
# thread of benches/storm.lua appends a line to OUT.done when it has its answers, and wrk is
# stopped when all have (its SIGINT handler ends the run and prints the summary as usual).
storm_wrk() {
  local out="$1" url="$2" threads="$3" connections="$4" flow="$5" rounds="$6" seed="$7" max="$8" pid
  rm -f "$out.done"
  BENCH_FLOW="$flow" BENCH_ROUNDS="$rounds" BENCH_SEED="$seed" BENCH_THREADS="$threads" BENCH_DONE="$out.done" \
    wrk -t "$threads" -c "$connections" -d "${max}s" --timeout 30s -s benches/storm.lua "$url" >"$out" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    [ "$(cat "$out.done" 2>/dev/null | wc -l)" -ge "$threads" ] && break
    sleep 0.05
  done
  STORM_WRK_TICKS=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid"
}
