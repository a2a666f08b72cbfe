#!/usr/bin/env bash
# The benchmark of issue 13, side by side in one run (a script, not a timed test):
#   - dyndns2 flows through real nginx on loopback, driven by wrk (benches/update.lua), each
#     connection with its own hostname in the "many" flows: CGI (nginx + fcgiwrap, the shipped
#     nginx/ddns-cgi-fcgiwrap.conf) and FastCGI (`ddns-cgi fastcgi --socket`, the shipped
#     nginx/ddns-cgi-fastcgi.conf and upstream conf); answers good/nochg/badauth; password
#     and per-host token auth (token rows are skipped loudly when the build has no tokens);
#   - the limits, measured in the same run: the DNS server's own rate of TSIG-signed updates
#     (benches/programs/dns_load.rs; 1, 8, 32 and 64 hosts per message), Knot's and a
#     throwaway BIND's and PowerDNS's, nginx answering a static `nochg`, and a minimal compiled CGI program
#     through the same fcgiwrap (benches/programs/cgi_hello.rs); every flow row states its
#     ratio to its limit, `good` rows to Knot's and to BIND's rate of one-host updates from
#     as many clients;
#   - the many-hostname flows again on PostgreSQL (a throwaway cluster) and on MariaDB (a
#     throwaway server), side by side with SQLite, with the same checks;
#   - the many-hostname `good` flows (FastCGI password and token, CGI token) again against
#     BIND (labels *-bind: a second SQLite database whose config sends to BIND), side by side
#     with Knot, with the same checks, each row's ratio to BIND's own rate; and the same
#     against PowerDNS (labels *-pdns, gsqlite3 from contrib/powerdns/);
#   - the web console's pages (its login page, and a logged-in user's hosts page) through CGI
#     and FastCGI beside the CGI and FastCGI hellos, with `[web]` on in the store the dyndns2
#     rows use, and one CGI request with and without `[web]`: the console must not slow them;
#   - the storm (issue 25): thousands of hosts, each with its own token (made in one
#     transaction by `ddns-cgi hostname import`), all reporting a new address in the same
#     minute, a fixed number of times each, from wrk (benches/storm.lua) at 256 and 1,024
#     keep-alive connections through nginx and `ddns-cgi fastcgi` with the shipped unit's
#     settings; on SQLite, PostgreSQL and MariaDB, against Knot and BIND (labels
#     storm-STORE-SERVER-cN);
#     rows: updates/s, p50/p99/max, hosts per DNS message (Knot's log, BIND's serial), the
#     time until every host's DNS answer equals its row, CPU per request of each process,
#     and the ratio to the server's own rate of one-host updates from as many clients;
#   - wall time and peak RSS of one CGI request per flow, the binary's size, and the expiry of
#     10,000 hosts batched (scripts/bench-expire.sh) against one message per host;
#   - correctness under load: after each `good` flow every host's records (kdig) equal its
#     row (`hostname list --json`), a kdig poller running during the flow never sees a host
#     with no address or two, and no answer is `911` or otherwise unexpected.
# Speed never fails the run; a correctness violation makes it exit 1.
#
# Usage: scripts/bench.sh [--short] [--list]
#   --short (or BENCH_SHORT=1): a few seconds per flow, to prove the script works (CI)
#   --list: print the labels BENCH_FLOWS selects from, and exit
#   BENCH_FLOWS (all)       comma-separated extended regexes (case-insensitive) on the labels:
#                           only the flows, limits and sections they match run, plus the
#                           limits a selected flow's ratio needs; e.g. fastcgi-good-token-many
#                           (on every store, BIND's too), ^postgres-, ^mariadb-, -bind$, limit-bind,
#                           -pdns$, limit-pdns, ^storm-, storm-postgres-bind,
#                           one-request, expire
#   BENCH_POSTGRES (1 if PostgreSQL is installed; 0 in --short)  the PostgreSQL rows
#   BENCH_MARIADB (1 if MariaDB is installed; 0 in --short)  the MariaDB rows
#   BENCH_CONNECTIONS (8)   wrk connections and threads, DNS clients, hostnames
#   BENCH_SECONDS (10; 1)   duration of each wrk flow
#   BENCH_DNS_SECONDS (5; 1) duration of each DNS limit run
#   BENCH_EXPIRE_HOSTS (10000; 1000) hosts of the expiry comparison
#   BENCH_STORM_HOSTS (10000; 500)   hostnames of the storm, each with its own token
#   BENCH_STORM_CONNECTIONS (256,1024; 64)  wrk connections of the storm's runs (multiples
#                           of 8 above 8), and the DNS servers' limits it is measured against
#   BENCH_STORM_ROUNDS (3; 2)        requests per host in each storm run
#   BENCH_PROFILE (release; dev)     cargo profile of the measured binaries
#   BENCH_OUT (target/bench)         where the run's results.tsv (one row per measurement,
#                           the format of benches/history/*.tsv) and its charts
#                           (scripts/charts.sh: bench-*.svg, with gnuplot) are written
# Runs the web stack as www-data when started as root, as the tests do (Knot as knot, BIND as
# bind, PowerDNS as pdns, PostgreSQL as postgres, MariaDB as mysql); `ddns-cgi fastcgi` gets the environment of the shipped
# nginx/ddns-cgi.service. CI runs --short at the end of scripts/test.sh; figures and the
# machine are recorded in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

short="${BENCH_SHORT:-0}" list=0
for arg in "$@"; do
  case "$arg" in
    --short) short=1 ;;
    --list) list=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument \`$arg\` (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$short" = 1 ]; then
  conns="${BENCH_CONNECTIONS:-8}" secs="${BENCH_SECONDS:-1}" dns_secs="${BENCH_DNS_SECONDS:-1}"
  expire_hosts="${BENCH_EXPIRE_HOSTS:-1000}"
  storm_hosts="${BENCH_STORM_HOSTS:-500}" storm_conns="${BENCH_STORM_CONNECTIONS:-64}" storm_rounds="${BENCH_STORM_ROUNDS:-2}"
  # The debug build `cargo test` has just made: proving the script works needs no release
  # build, which would double CI's time.
  profile="${BENCH_PROFILE:-dev}"
else
  conns="${BENCH_CONNECTIONS:-8}" secs="${BENCH_SECONDS:-10}" dns_secs="${BENCH_DNS_SECONDS:-5}"
  expire_hosts="${BENCH_EXPIRE_HOSTS:-10000}"
  storm_hosts="${BENCH_STORM_HOSTS:-10000}" storm_conns="${BENCH_STORM_CONNECTIONS:-256,1024}" storm_rounds="${BENCH_STORM_ROUNDS:-3}"
  profile="${BENCH_PROFILE:-release}"
fi
IFS=', ' read -r -a storm_conns <<<"$storm_conns"
# A host's addresses in a storm run are 10.ROUND.(i / 254).(i % 254 + 1) (benches/storm.lua).
[[ $storm_hosts =~ ^[0-9]+$ ]] && [ "$storm_hosts" -ge 1 ] && [ "$storm_hosts" -le 65024 ] ||
  { echo "BENCH_STORM_HOSTS must be 1 to 65024, not \`$storm_hosts\`" >&2; exit 2; }
[[ $storm_rounds =~ ^[0-9]+$ ]] && [ "$storm_rounds" -ge 1 ] && [ "$storm_rounds" -le 60 ] ||
  { echo "BENCH_STORM_ROUNDS must be 1 to 60, not \`$storm_rounds\`" >&2; exit 2; }
# wrk's threads of a storm run: each drives CONNECTIONS / threads of the connections.
storm_threads() { if [ "$1" -le 8 ]; then echo "$1"; else echo 8; fi; }
for c in "${storm_conns[@]}"; do
  { [[ $c =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] && [ $((c % $(storm_threads "$c"))) = 0 ]; } ||
    { echo "BENCH_STORM_CONNECTIONS: \`$c\` is not a number of connections up to 8 or a multiple of 8" >&2; exit 2; }
done
# Deletions timed one message per host (the rest is extrapolated): about 10 ms each.
expire_single=$((expire_hosts < 1000 ? expire_hosts : 1000))
[ "$short" = 1 ] && expire_single=$((expire_hosts < 200 ? expire_hosts : 200))

export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"
source scripts/lib.sh

# ---------------------------------------------------------------------------------------
# What runs: the labels, BENCH_FLOWS, BENCH_POSTGRES, BIND
pg_bin="$(postgres_bin_dir || true)"
case "${BENCH_POSTGRES:-}" in
  1)
    postgres=1
    [ -n "$pg_bin" ] || { echo "BENCH_POSTGRES=1, but PostgreSQL's server is not installed (Debian package postgresql)" >&2; exit 2; }
    ;;
  0) postgres=0 postgres_why="BENCH_POSTGRES=0" ;;
  "")
    postgres=1
    if [ "$short" = 1 ]; then postgres=0 postgres_why="--short mode (BENCH_POSTGRES=1 adds them)"; fi
    if [ -z "$pg_bin" ]; then postgres=0 postgres_why="PostgreSQL's server is not installed (Debian package postgresql)"; fi
    ;;
  *) echo "BENCH_POSTGRES must be 0 or 1, not \`$BENCH_POSTGRES\`" >&2; exit 2 ;;
esac
case "${BENCH_MARIADB:-}" in
  1)
    mariadb=1
    [ -x /usr/sbin/mariadbd ] || { echo "BENCH_MARIADB=1, but MariaDB's server is not installed (Debian package mariadb-server)" >&2; exit 2; }
    ;;
  0) mariadb=0 mariadb_why="BENCH_MARIADB=0" ;;
  "")
    mariadb=1
    if [ "$short" = 1 ]; then mariadb=0 mariadb_why="--short mode (BENCH_MARIADB=1 adds them)"; fi
    if [ ! -x /usr/sbin/mariadbd ]; then mariadb=0 mariadb_why="MariaDB's server is not installed (Debian package mariadb-server)"; fi
    ;;
  *) echo "BENCH_MARIADB must be 0 or 1, not \`$BENCH_MARIADB\`" >&2; exit 2 ;;
esac
bind=1
command -v named >/dev/null || bind=0
pdns=1 pdns_missing_package="$(pdns_missing)"
[ -z "$pdns_missing_package" ] || pdns=0
# KIND CLIENTS HOSTS_PER_MESSAGE TRANSPORT [PAUSE_MS]. The runs with a pause (one client that
# waits 30 ms after each answer) count Knot's one-second stalls (BENCHMARKS.md): a tight loop
# seldom meets them, a client that pauses does, and BIND beside it shows none.
dns_runs=("knot 1 1 udp" "knot $conns 1 udp" "knot 1 1 udp 30")
for k in 1 8 32 64; do dns_runs+=("knot 1 $k tcp" "knot $conns $k tcp"); done
[ "$bind" = 1 ] && dns_runs+=("bind 1 1 udp" "bind $conns 1 udp" "bind $conns 1 tcp" "bind 1 1 udp 30")
[ "$pdns" = 1 ] && dns_runs+=("pdns 1 1 udp" "pdns $conns 1 udp" "pdns $conns 1 tcp" "pdns 1 1 udp 30")
# The storm's limits: each server's rate of one-host updates from as many clients as the storm
# has connections.
for c in "${storm_conns[@]}"; do
  [ "$c" = "$conns" ] && continue
  dns_runs+=("knot $c 1 udp")
  [ "$bind" = 1 ] && dns_runs+=("bind $c 1 udp")
done
dns_label() { echo "limit-$1-c$2-h$3-$4${5:+-pause$5}"; } # KIND CLIENTS HOSTS TRANSPORT [PAUSE_MS]
flow_label() { # [STORE] FRONT ANSWER AUTH HOSTS: e.g. fastcgi-good-token-many (sqlite),
  # postgres-cgi-good-token-many (postgres, mariadb), fastcgi-good-token-many-bind (bind)
  local store=sqlite
  [ $# = 5 ] && { store=$1; shift; }
  case "$store" in
    sqlite) echo "${1,,}-$2-$3-$4" ;;
    bind) echo "${1,,}-$2-$3-$4-bind" ;;
    pdns) echo "${1,,}-$2-$3-$4-pdns" ;;
    *) echo "$store-${1,,}-$2-$3-$4" ;;
  esac
}
# The flows (FRONT ANSWER AUTH HOSTS) in the order they run: what changes nothing first, then
# `good` (see "The flows" below); on PostgreSQL and MariaDB the many-hostname ones; against BIND the
# many-hostname `good` ones (FastCGI with password and token, CGI with token: CGI with a
# password is Argon2's rate, not the DNS server's).
sqlite_flows=() postgres_flows=() mariadb_flows=() bind_flows=() pdns_flows=()
[ "$bind" = 1 ] && bind_flows=("CGI good token many" "FastCGI good password many" "FastCGI good token many")
[ "$pdns" = 1 ] && pdns_flows=("CGI good token many" "FastCGI good password many" "FastCGI good token many")
for phase in "nochg one,nochg many,badauth one" "good one,good many"; do
  for front in CGI FastCGI; do
    for auth in password token; do
      IFS=, read -r -a answer_hosts <<<"$phase"
      for ah in "${answer_hosts[@]}"; do
        read -r answer hosts <<<"$ah"
        sqlite_flows+=("$front $answer $auth $hosts")
        if [ "$hosts" = many ] && [ "$postgres" = 1 ]; then postgres_flows+=("$front $answer $auth $hosts"); fi
        if [ "$hosts" = many ] && [ "$mariadb" = 1 ]; then mariadb_flows+=("$front $answer $auth $hosts"); fi
      done
    done
  done
done
labels=()
for r in "${dns_runs[@]}"; do labels+=("$(dns_label $r)"); done
labels+=(limit-static limit-fcgi-hello limit-hello)
console_labels=(console-login-cgi console-login-fastcgi console-hosts-cgi console-hosts-fastcgi)
labels+=("${console_labels[@]}")
for f in "${sqlite_flows[@]}"; do labels+=("$(flow_label $f)"); done
for f in "${postgres_flows[@]}"; do labels+=("$(flow_label postgres $f)"); done
for f in "${mariadb_flows[@]}"; do labels+=("$(flow_label mariadb $f)"); done
for f in "${bind_flows[@]}"; do labels+=("$(flow_label bind $f)"); done
for f in "${pdns_flows[@]}"; do labels+=("$(flow_label pdns $f)"); done
# The storm's targets, STORE-SERVER, and the bench store each runs on (its config, FastCGI
# server and nginx servers): postgres-bind is a store of its own, a second PostgreSQL database
# whose config sends to BIND; mariadb-bind the same on MariaDB (issue 25).
declare -A storm_store=([sqlite-knot]=sqlite [postgres-knot]=postgres [mariadb-knot]=mariadb [sqlite-bind]=bind
  [postgres-bind]=postgres-bind [mariadb-bind]=mariadb-bind)
storm_targets=(sqlite-knot)
[ "$postgres" = 1 ] && storm_targets+=(postgres-knot)
[ "$mariadb" = 1 ] && storm_targets+=(mariadb-knot)
[ "$bind" = 1 ] && storm_targets+=(sqlite-bind)
[ "$postgres" = 1 ] && [ "$bind" = 1 ] && storm_targets+=(postgres-bind)
[ "$mariadb" = 1 ] && [ "$bind" = 1 ] && storm_targets+=(mariadb-bind)
storm_label() { echo "storm-$1-c$2"; } # TARGET CONNECTIONS
for t in "${storm_targets[@]}"; do
  for c in "${storm_conns[@]}"; do labels+=("$(storm_label "$t" "$c")"); done
done
labels+=(one-request expire)
if [ "$list" = 1 ]; then
  printf '%s\n' "${labels[@]}"
  [ "$postgres" = 1 ] || echo "(no postgres-* or storm-postgres-* labels: $postgres_why)"
  [ "$mariadb" = 1 ] || echo "(no mariadb-* or storm-mariadb-* labels: $mariadb_why)"
  [ "$bind" = 1 ] || echo "(no limit-bind-* or *-bind labels: named is not installed, Debian package bind9)"
  [ "$pdns" = 1 ] || echo "(no limit-pdns-* or *-pdns labels: PowerDNS is not installed, Debian package $pdns_missing_package)"
  exit 0
fi
flows_re="${BENCH_FLOWS:-}"
flows_re="${flows_re//,/|}"
selected() { [ -z "$flows_re" ] || grep -qiE -- "$flows_re" <<<"$1"; }
# Whether a selected label matches the extended regex: what the selected flows need.
any_selected() {
  local l
  for l in "${labels[@]}"; do if grep -qE -- "$1" <<<"$l" && selected "$l"; then return 0; fi; done
  return 1
}
if [ -n "$flows_re" ] && ! any_selected .; then
  echo "BENCH_FLOWS=\`$BENCH_FLOWS\` selects nothing; the labels (scripts/bench.sh --list):" >&2
  printf '  %s\n' "${labels[@]}" >&2
  exit 2
fi
# The limits a selected flow's ratio needs run even when not selected themselves.
need_dns=0 need_static=0 need_hello=0 need_fcgi_hello=0
any_selected '^(postgres-|mariadb-)?[a-z]+-good-' && need_dns=1
any_selected '^(postgres-|mariadb-)?fastcgi-(nochg|badauth)-' && need_static=1 && need_fcgi_hello=1
any_selected '^(postgres-|mariadb-)?cgi-(nochg|badauth)-' && need_hello=1
any_selected '^console-.*-cgi$' && need_hello=1
any_selected '^console-.*-fastcgi$' && need_fcgi_hello=1
run_dns() { # KIND CLIENTS HOSTS TRANSPORT: whether this limit runs
  selected "$(dns_label "$@")" || { [ "$need_dns" = 1 ] && [ "$2" = "$conns" ] && [ "$3" = 1 ] && [ "$4" = udp ] && [ -z "${5:-}" ]; } ||
    { [ "$3" = 1 ] && [ "$4" = udp ] && [ -z "${5:-}" ] && any_selected "^storm-[a-z]+-$1-c$2\$"; }
}
use_bind=0 use_bind_flows=0
for r in "${dns_runs[@]}"; do
  case "$r" in bind*) if run_dns $r; then use_bind=1; fi ;; esac
done
[ "$bind" = 1 ] && any_selected '(-bind$|^storm-sqlite-bind-)' && use_bind_flows=1 use_bind=1
use_postgres_bind=0
[ "$postgres" = 1 ] && [ "$bind" = 1 ] && any_selected '^storm-postgres-bind-' && use_postgres_bind=1 use_bind=1
use_mariadb_bind=0
[ "$mariadb" = 1 ] && [ "$bind" = 1 ] && any_selected '^storm-mariadb-bind-' && use_mariadb_bind=1 use_bind=1
use_pdns=0 use_pdns_flows=0
for r in "${dns_runs[@]}"; do
  case "$r" in pdns*) if run_dns $r; then use_pdns=1; fi ;; esac
done
[ "$pdns" = 1 ] && any_selected '-pdns$' && use_pdns_flows=1 use_pdns=1
use_postgres=0
[ "$postgres" = 1 ] && any_selected '^(storm-)?postgres-' && use_postgres=1
use_mariadb=0
[ "$mariadb" = 1 ] && any_selected '^(storm-)?mariadb-' && use_mariadb=1

for p in knotd kdig nginx fcgiwrap wrk curl python3 setsid /usr/bin/time; do
  command -v "$p" >/dev/null || { echo "$p is missing: run scripts/install-deps.sh" >&2; exit 2; }
done

t_start=$EPOCHREALTIME
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$profile" = release ]; then
  echo "==> building ddns-cgi and the bench programs (release)"
  cargo build --release --locked --quiet
  cargo build --release --locked --quiet --example dns_load --example cgi_hello --example fcgi_hello
  target="target/release"
else
  echo "==> building ddns-cgi and the bench programs (dev profile: figures are not comparable)"
  cargo build --locked --quiet --bin ddns-cgi --example dns_load --example cgi_hello --example fcgi_hello
  target="target/debug"
fi

work="$(mktemp -d)"
pgroups=()
cleanup() {
  local g
  if [ -n "${poller_pid:-}" ]; then kill "$poller_pid" 2>/dev/null || true; fi
  for g in "${pgroups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for g in "${pgroups[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$g" 2>/dev/null || true
  done
  stop_knot
  stop_bind
  stop_pdns
  stop_postgres
  stop_mariadb
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

web_user="" web_prefix=()
if [ "$(id -u)" -eq 0 ]; then
  web_user="www-data"
  web_prefix=("$(command -v setpriv)" --reuid="$web_user" --regid="$web_user" --clear-groups --)
fi
# Runs a command as the web server's user, so every file SQLite creates belongs to it.
as_web() { "${web_prefix[@]}" "$@"; }
# Starts a long-running server in its own process group (fcgiwrap's children do not stop
# with their parent), remembered for the cleanup.
spawn() { # LOG COMMAND...
  local log="$1"; shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  pgroups+=("$!")
  SPAWNED=$!
}
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

violations=0
violation() { # MESSAGE: loud, and the run will exit 1
  violations=$((violations + 1))
  echo "!!! CORRECTNESS VIOLATION: $*" | tee -a "$work/violations"
}

# ---------------------------------------------------------------------------------------
# DNS servers, the stores and their configs, users, hostnames, tokens
zone="bench.example.test"
secret="$(head -c 32 /dev/urandom | base64)"
start_knot "$work/knot" "$zone" "$secret"
dns="127.0.0.1:$KNOT_PORT"
umask 077
printf 'hmac-sha256:ddns-key:%s\n' "$secret" >"$work/tsig.key"
if [ "$use_bind" = 1 ]; then
  start_bind "$work/bind" "$zone" "$secret"
  echo "==> BIND $(named -v | awk '{print $2}') on 127.0.0.1:$BIND_PORT, for its own limit$([ "$use_bind_flows" = 1 ] && echo " and the *-bind flows")"
elif [ "$bind" = 0 ]; then
  echo "!!! n/a: named is not installed (Debian package bind9): no BIND limit nor *-bind flows, \`good\` rows name Knot's only"
fi
if [ "$use_pdns" = 1 ]; then
  start_pdns "$work/pdns" "$zone" "$secret"
  echo "==> PowerDNS $(pdns_server --version 2>&1 | sed -n 's/.*Authoritative Server \([^ ]*\).*/\1/p' | head -1) (gsqlite3) on 127.0.0.1:$PDNS_PORT, for its own limit$([ "$use_pdns_flows" = 1 ] && echo " and the *-pdns flows")"
elif [ "$pdns" = 0 ]; then
  echo "!!! n/a: PowerDNS is not installed (Debian package $pdns_missing_package): no PowerDNS limit nor *-pdns flows"
fi
[ "$postgres" = 1 ] || echo "!!! PostgreSQL rows skipped: $postgres_why"
[ "$mariadb" = 1 ] || echo "!!! MariaDB rows skipped: $mariadb_why"

mkdir -p "$work/bin" "$work/web/tmp" "$work/out"
chmod 755 "$work" "$work/bin"
cp "$target/ddns-cgi" "$target/examples/cgi_hello" "$target/examples/fcgi_hello" "$target/examples/dns_load" "$work/bin/"
chmod 755 "$work/bin"/*
bin="$work/bin/ddns-cgi"
web="$work/web"
# The stores: the SQLite file (every flow) and, with BENCH_POSTGRES and BENCH_MARIADB, a
# PostgreSQL and a MariaDB database (the many-hostname flows), all against Knot; and, for the *-bind flows, a second SQLite
# file whose config sends to BIND. Each has its config, its FastCGI server and nginx servers,
# its DNS server and its own hostnames in the one zone (h1.., p1.. on Knot, b1.. on BIND's
# copy of the zone), so each is checked against the server it updates.
stores=(sqlite)
declare -A S_cfg S_prefix S_cgi_port S_fcgi_port S_fastcgi_pid S_socket S_dns S_name
S_dns[sqlite]=$KNOT_PORT S_name[sqlite]="sqlite store"
no_rate_limit=$'[rate_limit]\n# The flows send hundreds of requests per host and per user per second.\nenabled = false'
S_cfg[sqlite]="$web/config.toml" S_prefix[sqlite]=h S_socket[sqlite]="$web/fastcgi.sock"
# The web console is on where the dyndns2 rows are measured, as a site that offers it runs;
# the one-request rows compare a config without it.
write_config "${S_cfg[sqlite]}" "$web/ddns.db" "$KNOT_PORT" "$zone" "$secret" "$no_rate_limit"$'\n[web]'
grep -v '^\[web\]$' "${S_cfg[sqlite]}" >"$web/config-no-web.toml"
if [ "$use_postgres" = 1 ]; then
  start_postgres "$work/pg"
  pg_version=$("$PG_BIN/postgres" --version | awk '{print $3}')
  echo "==> PostgreSQL $pg_version on the Unix socket $work/pg (.s.PGSQL.$PG_PORT)"
  # The role and database an administrator would create (README, PostgreSQL); trust
  # authentication on a socket only this machine reaches.
  psql -X -q -v ON_ERROR_STOP=1 -h "$work/pg" -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE ROLE ddns LOGIN" -c "CREATE DATABASE ddns OWNER ddns" >/dev/null
  stores+=(postgres)
  S_cfg[postgres]="$web/config-postgres.toml" S_prefix[postgres]=p S_socket[postgres]="$web/fastcgi-postgres.sock"
  # The SQLite config with its `path` line replaced by the PostgreSQL URL.
  sed "s|^path = .*|url = \"postgresql://ddns@/ddns?host=$work/pg\&port=$PG_PORT\"|" "${S_cfg[sqlite]}" >"${S_cfg[postgres]}"
  chmod 600 "${S_cfg[postgres]}"
  S_dns[postgres]=$KNOT_PORT S_name[postgres]="postgres store"
fi
if [ "$use_mariadb" = 1 ] || [ "$use_mariadb_bind" = 1 ]; then
  start_mariadb "$work/mariadb"
  mariadb_version=$(/usr/sbin/mariadbd --version | awk '{print $3}' | cut -d- -f1)
  echo "==> MariaDB $mariadb_version on the Unix socket $MARIADB_SOCKET"
  # The user and database an administrator would create (the book's MariaDB chapter).
  mariadb_password="bench-$RANDOM$RANDOM"
  mariadb_sql "CREATE USER 'ddns'@'localhost' IDENTIFIED BY '$mariadb_password';
    CREATE DATABASE ddns; GRANT ALL ON ddns.* TO 'ddns'@'localhost';
    CREATE DATABASE ddns_bind; GRANT ALL ON ddns_bind.* TO 'ddns'@'localhost'"
  mariadb_url() { echo "mysql://ddns:$mariadb_password@localhost/$1?socket=$MARIADB_SOCKET"; } # DATABASE
fi
if [ "$use_mariadb" = 1 ]; then
  stores+=(mariadb)
  S_cfg[mariadb]="$web/config-mariadb.toml" S_prefix[mariadb]=m S_socket[mariadb]="$web/fastcgi-mariadb.sock"
  # The SQLite config with its `path` line replaced by the MariaDB URL.
  sed "s|^path = .*|url = \"$(mariadb_url ddns)\"|" "${S_cfg[sqlite]}" >"${S_cfg[mariadb]}"
  chmod 600 "${S_cfg[mariadb]}"
  S_dns[mariadb]=$KNOT_PORT S_name[mariadb]="mariadb store"
fi
if [ "$use_bind_flows" = 1 ]; then
  stores+=(bind)
  S_cfg[bind]="$web/config-bind.toml" S_prefix[bind]=b S_socket[bind]="$web/fastcgi-bind.sock"
  S_dns[bind]=$BIND_PORT S_name[bind]="sqlite store, against BIND"
  write_config "${S_cfg[bind]}" "$web/ddns-bind.db" "$BIND_PORT" "$zone" "$secret" "$no_rate_limit"
fi
if [ "$use_postgres_bind" = 1 ]; then
  # The storm on PostgreSQL against BIND: a second database of the same cluster.
  psql -X -q -v ON_ERROR_STOP=1 -h "$work/pg" -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE DATABASE ddns_bind OWNER ddns" >/dev/null
  stores+=(postgres-bind)
  S_cfg[postgres-bind]="$web/config-postgres-bind.toml" S_prefix[postgres-bind]=q S_socket[postgres-bind]="$web/fastcgi-postgres-bind.sock"
  S_dns[postgres-bind]=$BIND_PORT S_name[postgres-bind]="postgres store, against BIND"
  write_config "${S_cfg[postgres-bind]}" "$web/unused.db" "$BIND_PORT" "$zone" "$secret" "$no_rate_limit"
  sed -i "s|^path = .*|url = \"postgresql://ddns@/ddns_bind?host=$work/pg\&port=$PG_PORT\"|" "${S_cfg[postgres-bind]}"
fi
if [ "$use_mariadb_bind" = 1 ]; then
  # The storm on MariaDB against BIND: a second database of the same server.
  stores+=(mariadb-bind)
  S_cfg[mariadb-bind]="$web/config-mariadb-bind.toml" S_prefix[mariadb-bind]=n S_socket[mariadb-bind]="$web/fastcgi-mariadb-bind.sock"
  S_dns[mariadb-bind]=$BIND_PORT S_name[mariadb-bind]="mariadb store, against BIND"
  write_config "${S_cfg[mariadb-bind]}" "$web/unused.db" "$BIND_PORT" "$zone" "$secret" "$no_rate_limit"
  sed -i "s|^path = .*|url = \"$(mariadb_url ddns_bind)\"|" "${S_cfg[mariadb-bind]}"
  chmod 600 "${S_cfg[mariadb-bind]}"
fi
if [ "$use_pdns_flows" = 1 ]; then
  stores+=(pdns)
  S_cfg[pdns]="$web/config-pdns.toml" S_prefix[pdns]=d S_socket[pdns]="$web/fastcgi-pdns.sock"
  S_dns[pdns]=$PDNS_PORT S_name[pdns]="sqlite store, against PowerDNS"
  write_config "${S_cfg[pdns]}" "$web/ddns-pdns.db" "$PDNS_PORT" "$zone" "$secret" "$no_rate_limit"
fi
[ -n "$web_user" ] && chown -R "$web_user:$web_user" "$web"
# The current store: use_store sets cfg, the ports (dns_port: the DNS server it updates), the
# FastCGI server's pid and all_hosts.
use_store() { # STORE
  store="$1" cfg="${S_cfg[$1]}" cgi_port="${S_cgi_port[$1]:-}" fcgi_port="${S_fcgi_port[$1]:-}"
  dns_port="${S_dns[$1]}"
  fastcgi_pid="${S_fastcgi_pid[$1]:-}" flows="$work/flows/$1"
  all_hosts=()
  local i
  for i in $(seq "$conns"); do all_hosts+=("$(host "$i")"); done
}
ddns() { as_web "$bin" --config "$cfg" "$@"; }
host() { echo "${S_prefix[$store]}$1.$zone"; }
password() { echo "bench-password-$1"; }
echo "==> Knot $(knotd --version | awk '{print $NF}') on $dns; $conns users, hostnames and connections per store (${stores[*]})"

tokens=0
use_store sqlite
if ddns hostname --help 2>/dev/null | grep -qE '^ +token( |$)'; then
  tokens=1
else
  echo "!!! n/a: no token support in this build (\`ddns-cgi hostname token\` is missing): token rows are skipped"
fi
# Flow files for benches/update.lua: FQDN, credential kind, credential, nochg/badauth address.
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }
nochg_addr() { echo "203.0.113.$1"; }
# A token nobody was given, shaped like a real one: a real token's first 5 characters (its
# prefix) and random URL-safe base64 to the same length.
wrong_token() {
  local real
  real=$(cat "$flows/token-1" 2>/dev/null || echo "ddns_")
  printf '%s%s' "${real:0:5}" "$(head -c 64 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d = | head -c $((${#real} - 5)))"
}
# The current store's schema, users, hostnames, tokens and flow files, all through the admin CLI.
setup_store() {
  local i
  mkdir -p "$flows"
  ddns init-db >/dev/null
  for i in $(seq "$conns"); do
    password "$i" | ddns user add "u$i" "u$i@example.test" --password-stdin >/dev/null
    ddns hostname add "u$i" "$(host "$i")" "$zone" >/dev/null
    if [ "$tokens" = 1 ]; then
      ddns hostname token "$(host "$i")" | grep -E '^[A-Za-z0-9_-]{22,}$' | tail -1 >"$flows/token-$i" || true
      [ -s "$flows/token-$i" ] || { echo "\`hostname token $(host "$i")\` printed no token ($store)" >&2; exit 2; }
    fi
    printf '%s\tbasic\t%s\t%s\n' "$(host "$i")" "$(basic "u$i" "$(password "$i")")" "$(nochg_addr "$i")" >>"$flows/password-many"
    [ "$tokens" = 1 ] &&
      printf '%s\ttoken\t%s\t%s\n' "$(host "$i")" "$(cat "$flows/token-$i")" "$(nochg_addr "$i")" >>"$flows/token-many"
  done
  head -1 "$flows/password-many" >"$flows/password-one"
  [ "$tokens" = 1 ] && head -1 "$flows/token-many" >"$flows/token-one"
  printf '%s\tbasic\t%s\t%s\n' "$(host 1)" "$(basic u1 wrong-password)" "$(nochg_addr 1)" >"$flows/password-bad"
  printf '%s\ttoken\t%s\t%s\n' "$(host 1)" "$(wrong_token)" "$(nochg_addr 1)" >"$flows/token-bad"
}
for s in "${stores[@]}"; do
  use_store "$s"
  setup_store
done

# ---------------------------------------------------------------------------------------
# Web stack: fcgiwrap, one `ddns-cgi fastcgi` per store, and one nginx with two servers per
# store: CGI (the shipped fcgiwrap locations plus /hello) and FastCGI (the shipped FastCGI
# locations plus /static).
template() { # STORE FILE: a shipped nginx file with this run's paths and the store's config
  sed -e "s|/usr/lib/cgi-bin|$work/bin|g" -e "s|/etc/ddns-cgi/config.toml|${S_cfg[$1]}|g" \
    -e "s|/run/fcgiwrap.socket|$web/fcgiwrap.sock|g" -e "s|/run/ddns-cgi/fastcgi.sock|${S_socket[$1]}|g" \
    -e "s|upstream ddns_cgi |upstream ddns_cgi_$1 |; s|fastcgi_pass ddns_cgi;|fastcgi_pass ddns_cgi_$1;|" "$2"
}
for s in "${stores[@]}"; do
  template "$s" nginx/ddns-cgi-fcgiwrap.conf >"$web/cgi-locations-$s.conf"
  template "$s" nginx/ddns-cgi-fastcgi.conf >"$web/fastcgi-locations-$s.conf"
  template "$s" nginx/ddns-cgi-upstream.conf >"$web/upstream-$s.conf"
done
cp /etc/nginx/fastcgi_params "$web/fastcgi_params"
[ -n "$web_user" ] && chown -R "$web_user:$web_user" "$web"

# One fcgiwrap child per connection, so CGI requests are not queued behind each other.
spawn "$web/fcgiwrap.log" "${web_prefix[@]}" fcgiwrap -c "$conns" -s "unix:$web/fcgiwrap.sock"
await_ready "$SPAWNED" test -S "$web/fcgiwrap.sock" || { cat "$web/fcgiwrap.log"; exit 2; }
# The FastCGI servers with their shipped defaults (workers, connections) and the environment
# of the shipped systemd unit (the glibc malloc tunables), so memory figures compare with it.
workers=$(ddns fastcgi --help | sed -n 's/.*--workers.*\[default: \([0-9]*\)\].*/\1/p')
mapfile -t unit_env < <(service_environment nginx/ddns-cgi.service)
for s in "${stores[@]}"; do
  spawn "$web/fastcgi-$s.log" "${web_prefix[@]}" env "${unit_env[@]}" "$bin" --config "${S_cfg[$s]}" fastcgi --socket "${S_socket[$s]}"
  S_fastcgi_pid[$s]=$SPAWNED
  await_ready "$SPAWNED" test -S "${S_socket[$s]}" || { cat "$web/fastcgi-$s.log"; exit 2; }
done

# The smallest FastCGI responder (benches/programs/fcgi_hello.rs: records read and written
# in the shape of ours, reading nothing else): how far any FastCGI program gets behind this nginx on this machine.
spawn "$web/fcgi_hello.log" "${web_prefix[@]}" "$work/bin/fcgi_hello" --socket "$web/fcgi_hello.sock"
hello_pid=$SPAWNED
await_ready "$SPAWNED" test -S "$web/fcgi_hello.sock" || { cat "$web/fcgi_hello.log"; exit 2; }

static_answers() { [ "$(curl -s "http://127.0.0.1:${S_fcgi_port[sqlite]}/static")" = nochg ]; }
for try in 1 2 3 4 5; do
  ports=()
  for s in "${stores[@]}"; do
    S_cgi_port[$s]=$(free_port) S_fcgi_port[$s]=$(free_port)
    ports+=("${S_cgi_port[$s]}" "${S_fcgi_port[$s]}")
  done
  [ "$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)" = "${#ports[@]}" ] || continue
  {
    cat <<CONF
daemon off;
worker_processes auto;
# The storm's 1,024 connections each take a client and an upstream connection, in one worker
# if the kernel hands it most of them; the default 1,024 and the soft limit of open files would
# refuse some.
worker_rlimit_nofile 16384;
pid $web/nginx.pid;
error_log $web/error.log warn;
events { worker_connections 4096; }
http {
  # Each answer's time, status and end (seconds since the epoch), from which the storm counts
  # its slow answers and those the DNS server's stalls held; no request line (a token's query
  # string holds the token).
  log_format timing '\$request_time \$status \$msec';
  access_log $web/access.log timing;
  client_body_temp_path $web/tmp/body;
  fastcgi_temp_path $web/tmp/fastcgi;
  proxy_temp_path $web/tmp/proxy;
  uwsgi_temp_path $web/tmp/uwsgi;
  scgi_temp_path $web/tmp/scgi;
  upstream fcgi_hello {
    server unix:$web/fcgi_hello.sock;
    keepalive 8;
  }
CONF
    for s in "${stores[@]}"; do
      cat <<CONF
  include $web/upstream-$s.conf;
  server {
    listen 127.0.0.1:${S_cgi_port[$s]};
    include $web/cgi-locations-$s.conf;
    location = /hello {
      include fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $work/bin/cgi_hello;
      fastcgi_pass unix:$web/fcgiwrap.sock;
    }
  }
  server {
    listen 127.0.0.1:${S_fcgi_port[$s]};
    include $web/fastcgi-locations-$s.conf;
    location = /static {
      default_type text/plain;
      return 200 "nochg\n";
    }
    location = /fcgi-hello {
      include fastcgi_params;
      fastcgi_keep_conn on;
      fastcgi_pass fcgi_hello;
    }
  }
CONF
    done
    echo "}"
  } >"$web/nginx.conf"
  [ -n "$web_user" ] && chown "$web_user:$web_user" "$web/nginx.conf"
  spawn "$web/nginx.log" "${web_prefix[@]}" nginx -e "$web/error.log" -p "$web" -c "$web/nginx.conf"
  nginx_pid=$SPAWNED
  if await_ready "$SPAWNED" static_answers; then break; fi
  [ "$try" = 5 ] && { echo "nginx did not start:" >&2; cat "$web/error.log" "$web/nginx.log" >&2; exit 2; }
done
for s in "${stores[@]}"; do
  echo "==> nginx $(nginx -v 2>&1 | sed 's|.*/||'), $s store: CGI on :${S_cgi_port[$s]}, FastCGI on :${S_fcgi_port[$s]}"
done
echo "==> \`ddns-cgi fastcgi\` environment as nginx/ddns-cgi.service: ${unit_env[*]:-(none)}"

# One request with curl; the credential goes through curl's config on stdin, not argv.
request() { # PORT CREDENTIAL_KIND CREDENTIAL QUERY -> "STATUS BODY"
  local url="http://127.0.0.1:$1/nic/update?$4"
  case "$2" in
    basic) printf 'header = "Authorization: %s"\n' "$3" ;;
    token) printf 'url = "%s&token=%s"\n' "$url" "$3"; url="" ;;
  esac | curl -sS -K - -w ' %{http_code}' ${url:+"$url"}
}
# Sets FQDN's address to ADDRESS through FastCGI with the owner's password (current store).
set_address() { # INDEX ADDRESS
  local out
  out=$(request "$fcgi_port" basic "$(basic "u$1" "$(password "$1")")" "hostname=$(host "$1")&myip=$2" 2>&1) || true
  case "$out" in
    "good $2"*" 200" | "nochg"*" 200") ;;
    *) violation "setting $(host "$1") to $2 answered \`$out\` ($store)" ;;
  esac
}
for s in "${stores[@]}"; do
  use_store "$s"
  for i in $(seq "$conns"); do set_address "$i" "$(nochg_addr "$i")"; done
done
use_store sqlite

# ---------------------------------------------------------------------------------------
# Correctness helpers: DNS against rows (of the current store), and a poller during `good` flows
# `FQDN ADDRESS` for every A record of the given hosts, sorted.
dns_view() {
  local args=() h
  for h in "$@"; do args+=("$h" A); done
  kdig +timeout=2 +retry=1 @127.0.0.1 -p "$dns_port" +noall +answer "${args[@]}" |
    awk '$4 == "A" { sub(/\.$/, "", $1); print $1, $5 }' | sort
}
rows_view() {
  ddns hostname list --json | python3 -c '
import json, sys
for h in json.load(sys.stdin):
    print(h["hostname"].rstrip("."), h["ipv4"] or "-")' | sort
}
# CPU time (user + system) of processes and their threads, in clock ticks, and per request
# in microseconds: R_CPU_APP for the program in APP_PID (if set), R_CPU_NGINX for nginx's
# master and workers, over one run_wrk. Less noisy than rates on a shared machine.
clk_tck=$(getconf CLK_TCK)
cpu_ticks() {
  local p t=0 v
  for p in "$@"; do
    v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    t=$((t + v))
  done
  echo "$t"
}
nginx_pids() { echo "$nginx_pid" $(pgrep -P "$nginx_pid" 2>/dev/null); }
per_request() { awk -v t="$1" -v n="$2" -v c="$clk_tck" 'BEGIN { if (n <= 0) print "-"; else printf "%.1f", t * 1e6 / c / n }'; }
# Waits until the requests a flow left behind are done: wrk stops with requests in flight,
# and fcgiwrap and the FastCGI server finish them after the client has gone. Done means no
# CGI process of ours (fcgiwrap runs it with its path as the whole command line) and a
# FastCGI server (of any store) that used no CPU for 300 ms.
settle() {
  local before
  for _ in $(seq 100); do
    before=$(cpu_ticks "${S_fastcgi_pid[@]}")
    sleep 0.3
    if ! pgrep -x -f "$bin" >/dev/null && [ "$(cpu_ticks "${S_fastcgi_pid[@]}")" = "$before" ]; then return 0; fi
  done
  echo "!!! requests still running 30 s after the flow"
}
check_rows() { # LABEL: every host's records equal its row (waiting for in-flight requests)
  local rows dnsv
  for _ in $(seq 25); do
    rows=$(rows_view) dnsv=$(dns_view "${all_hosts[@]}")
    [ "$rows" = "$dnsv" ] && return 0
    sleep 0.2
  done
  violation "$1: DNS and rows differ after the flow ($store store)"
  diff <(echo "$rows") <(echo "$dnsv") | sed 's/^</  row:/; s/^>/  dns:/' | grep -E 'row:|dns:' | head -20 || true
}
poller_start() { # HOSTS...: kdig in a loop, counting answers without exactly one address
  rm -f "$work/poll.stop" "$work/poll.result"
  (
    polls=0 bad=0 failed=0
    while [ -d "$work" ] && [ ! -e "$work/poll.stop" ]; do
      if view=$(dns_view "$@"); then
        polls=$((polls + 1))
        for h in "$@"; do
          n=$(grep -c "^$h " <<<"$view" || true)
          if [ "$n" != 1 ]; then
            bad=$((bad + 1))
            [ "$bad" -le 5 ] && echo "  poll $polls: $h has $n addresses" >>"$work/poll.detail"
          fi
        done
      else
        failed=$((failed + 1))
      fi
      sleep 0.02
    done
    echo "$polls $bad $failed" >"$work/poll.result"
  ) &
  poller_pid=$!
}
poller_stop() { # LABEL
  local polls bad failed
  touch "$work/poll.stop"
  wait "$poller_pid" || true
  poller_pid=""
  read -r polls bad failed <"$work/poll.result" || { violation "$1: the poller died"; return; }
  echo "    poller: $polls polls, $bad without exactly one address, $failed failed queries"
  if [ "$bad" -gt 0 ]; then
    violation "$1: the poller saw a host without its address or with two ($bad times)"
    cat "$work/poll.detail"
  fi
  rm -f "$work/poll.detail"
}

# ---------------------------------------------------------------------------------------
# wrk runs: sets R_RPS R_P50 R_P99 R_REQS R_UNEXPECTED R_911 R_NON2XX R_ERRORS
run_wrk() { # LABEL PORT MODE PATH [FLOWFILE]
  local label="$1" port="$2" out="$work/out/$1.txt" app0 ng0
  # shellcheck disable=SC2046
  app0=$(cpu_ticks ${APP_PID:-}) ng0=$(cpu_ticks $(nginx_pids))
  BENCH_MODE="$3" BENCH_PATH="$4" BENCH_FLOW="${5:-}" \
    wrk -t "$conns" -c "$conns" -d "${secs}s" --timeout 30s -s benches/update.lua "http://127.0.0.1:$port$4" >"$out" 2>&1 || {
    violation "$label: wrk failed"
    cat "$out"
  }
  local line
  line=$(grep '^RESULT ' "$out" || echo "RESULT")
  R_RPS=0 R_P50=0 R_P99=0 R_REQS=0 R_UNEXPECTED=0 R_911=0 R_NON2XX=0 R_ERRORS=0
  eval "$(sed 's/^RESULT //; s/\([a-z0-9_]*\)=\([^ ]*\)/local_\1=\2;/g' <<<"$line")"
  R_RPS=${local_rps:-0} R_P50=${local_p50_ms:-0} R_P99=${local_p99_ms:-0} R_REQS=${local_requests:-0}
  R_UNEXPECTED=${local_unexpected:-0} R_911=${local_n911:-0} R_NON2XX=${local_non2xx:-0} R_ERRORS=${local_socket_errors:-0}
  # shellcheck disable=SC2046
  R_CPU_APP=$(per_request $(($(cpu_ticks ${APP_PID:-}) - app0)) "$R_REQS")
  # shellcheck disable=SC2046
  R_CPU_NGINX=$(per_request $(($(cpu_ticks $(nginx_pids)) - ng0)) "$R_REQS")
  [ -z "${APP_PID:-}" ] && R_CPU_APP="-"
  if [ "$R_REQS" = 0 ]; then violation "$label: no request completed"; cat "$out"; fi
  if [ "$R_UNEXPECTED" != 0 ] || [ "$R_911" != 0 ] || [ "$R_ERRORS" != 0 ]; then
    violation "$label: $R_UNEXPECTED unexpected answers ($R_911 were 911), $R_ERRORS socket errors of $R_REQS requests"
    grep '^SAMPLE ' "$out" | sed 's/^SAMPLE /  e.g. /' || true
  fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "-"; else if (a / b < 1) printf "%.3f", a / b; else printf "%.2f", a / b }'; }
# One row of results.tsv: SECTION LABEL VALUE UNIT [P50 P99 LIMIT CPU_APP CPU_NGINX] ("-" as empty).
tsv() {
  local row
  row=$(printf '%s\t' "$1" "$2" "$3" "$4" "${5:-}" "${6:-}" "${7:-}" "${8:-}" "${9:-}")
  sed 's/\t-\t/\t\t/g; s/\t-\t/\t\t/g; s/\t$//' <<<"$row" >>"$work/results.rows"
}

limits_md=() cpu_md=()
# ---------------------------------------------------------------------------------------
# Limits: the DNS servers' rates, nginx static, CGI hello
echo "==> limits"
dns_rate="" bind_rate="" pdns_rate=""
dns_load() { # KIND CLIENTS HOSTS_PER_MESSAGE TRANSPORT [PAUSE_MS]
  local out server=$dns name=Knot pause="${5:-0}" how="$4"
  [ "$1" = bind ] && server="127.0.0.1:$BIND_PORT" name=BIND
  [ "$1" = pdns ] && server="127.0.0.1:$PDNS_PORT" name=PowerDNS
  [ "$pause" = 0 ] || how="$4, pausing $pause ms after each answer"
  out=$("$work/bin/dns_load" --server "$server" --zone "$zone" --key-file "$work/tsig.key" \
    --clients "$2" --hosts-per-message "$3" --transport "$4" --think-ms "$pause" --seconds "$dns_secs")
  eval "$(sed 's/^dns_load //; s/\([a-z0-9_]*\)=\([^ ]*\)/D_\1=\2;/g' <<<"$out")"
  if [ "$D_errors" != 0 ]; then echo "!!! DNS load: $D_errors of $D_messages messages failed (see above)"; fi
  printf '    %-4s %2s client(s), %2s host(s)/message, %s: %8s messages/s %9s updates/s (p50 %s ms, p99 %s ms, max %s ms; %s answers took 0.5 s or more)\n' \
    "$name" "$2" "$3" "$how" "$D_messages_per_s" "$D_updates_per_s" "$D_p50_ms" "$D_p99_ms" "$D_max_ms" "$D_over_500ms"
  limits_md+=("| $name: $3 host(s) per signed UPDATE, $2 client(s), $how | $D_messages_per_s msg/s = **$D_updates_per_s updates/s** | $D_p50_ms | $D_p99_ms | $D_errors | $D_over_500ms |")
  tsv limit "$(dns_label "$@")" "$D_updates_per_s" updates/s "$D_p50_ms" "$D_p99_ms"
  limit_rate[$(dns_label "$@")]=$D_updates_per_s
}
declare -A limit_rate
for r in "${dns_runs[@]}"; do
  # shellcheck disable=SC2086 # the run's fields are words
  run_dns $r || continue
  # shellcheck disable=SC2086
  dns_load $r
  case "$r" in
    "knot $conns 1 udp") dns_rate=$D_updates_per_s ;;
    "bind $conns 1 udp") bind_rate=$D_updates_per_s ;;
    "pdns $conns 1 udp") pdns_rate=$D_updates_per_s ;;
  esac
done

static_rate="" hello_rate=""
if selected limit-static || [ "$need_static" = 1 ]; then
  run_wrk static "$fcgi_port" static /static
  static_rate=$R_RPS
  tsv limit limit-static "$R_RPS" req/s "$R_P50" "$R_P99" "" "" "$R_CPU_NGINX"
  cpu_md+=("| nginx static | $R_RPS | - | $R_CPU_NGINX |")
  echo "    nginx static \`return 200\`: $R_RPS req/s (p50 $R_P50 ms, p99 $R_P99 ms)"
  limits_md+=("| nginx \`return 200 \"nochg\\n\"\`, $conns connections | **$R_RPS req/s** | $R_P50 | $R_P99 | $((R_UNEXPECTED + R_ERRORS)) | |")
fi
if selected limit-fcgi-hello || [ "$need_fcgi_hello" = 1 ]; then
  APP_PID=$hello_pid run_wrk fcgi_hello "$fcgi_port" static /fcgi-hello
  fcgi_hello_rate=$R_RPS
  tsv limit limit-fcgi-hello "$R_RPS" req/s "$R_P50" "$R_P99" "" "$R_CPU_APP" "$R_CPU_NGINX"
  cpu_md+=("| FastCGI hello | $R_RPS | $R_CPU_APP | $R_CPU_NGINX |")
  echo "    FastCGI hello: $R_RPS req/s (p50 $R_P50 ms, p99 $R_P99 ms)"
  limits_md+=("| FastCGI hello (benches/programs/fcgi_hello.rs: records only, no work) through the same nginx, $conns connections | **$R_RPS req/s**${static_rate:+ = $(ratio "$R_RPS" "$static_rate") of nginx static} | $R_P50 | $R_P99 | $((R_UNEXPECTED + R_ERRORS)) | |")
fi
if selected limit-hello || [ "$need_hello" = 1 ]; then
  run_wrk hello "$cgi_port" static /hello
  hello_rate=$R_RPS
  tsv limit limit-hello "$R_RPS" req/s "$R_P50" "$R_P99"
  echo "    CGI hello through fcgiwrap: $R_RPS req/s (p50 $R_P50 ms, p99 $R_P99 ms)"
  limits_md+=("| CGI hello (benches/programs/cgi_hello.rs) through nginx + fcgiwrap, $conns connections | **$R_RPS req/s** | $R_P50 | $R_P99 | $((R_UNEXPECTED + R_ERRORS)) | |")
fi

# ---------------------------------------------------------------------------------------
# The web console's pages beside the hellos: the login page, and the hosts page of u1, logged
# in once (its session cookie is every request's), through CGI and FastCGI (sqlite store).
console_md=()
if any_selected '^console-'; then
  echo "==> console pages (sqlite store, \`[web]\` on)"
  # The password goes to curl on stdin, not in its arguments.
  console_cookie=$(printf 'data-urlencode = "user=u1"\ndata-urlencode = "password=%s"\n' "$(password 1)" |
    curl -sS -K - -o /dev/null -D - "http://127.0.0.1:$fcgi_port/console/login" |
    sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
  [ -n "$console_cookie" ] || violation "the console's login as u1 set no session cookie"
  for label in "${console_labels[@]}"; do
    selected "$label" || continue
    IFS=- read -r _ page front <<<"$label"
    port=$cgi_port app="" limit=$hello_rate limit_name="CGI hello" front_name=CGI
    if [ "$front" = fastcgi ]; then
      port=$fcgi_port app=${S_fastcgi_pid[sqlite]} limit=${fcgi_hello_rate:-} limit_name="FastCGI hello" front_name=FastCGI
    fi
    # What only that page shows: the login form, or u1's hostname.
    cookie="" text='id="login"'
    [ "$page" = hosts ] && cookie=$console_cookie text=">$(host 1)<"
    BENCH_PAGE_COOKIE="$cookie" BENCH_PAGE_TEXT="$text" APP_PID=$app run_wrk "$label" "$port" page "/console/$page"
    [ "$front" = fastcgi ] && cpu_md+=("| $label | $R_RPS | $R_CPU_APP | $R_CPU_NGINX |")
    printf '    %-38s %8s req/s  p50 %8s ms  p99 %8s ms  %s requests, %s unexpected\n' \
      "$label" "$R_RPS" "$R_P50" "$R_P99" "$R_REQS" "$R_UNEXPECTED"
    console_md+=("| $page | $front_name | **$R_RPS** | $R_REQS | $R_P50 | $R_P99 | $R_UNEXPECTED | $limit_name | $(ratio "$R_RPS" "${limit:-0}") |")
  done
fi

# ---------------------------------------------------------------------------------------
# The flows. wrk stops with requests in flight, which fcgiwrap and the FastCGI server finish
# after the client has gone, possibly a second later (a DNS commit can stall that long). So
# the flows that change addresses (`good`) run last: a leftover `good` can then only meet
# another `good` flow, and each flow starts its addresses at its own offset (BENCH_SEED).
# The sqlite and postgres stores' flows run against Knot, the bind store's against BIND.
declare -A flow_md F_rps F_p50 F_p99
n_flow=0
flow() { # FRONT ANSWER AUTH HOSTS, on the current store
  local front="$1" answer="$2" auth="$3" hosts="$4" port file label limit limit_name
  label=$(flow_label "$store" "$front" "$answer" "$auth" "$hosts")
  n_flow=$((n_flow + 1))
  selected "$label" || return 0
  if [ "$auth" = token ] && [ "$tokens" = 0 ]; then
    echo "    $label: n/a: no token support in this build"
    flow_md[$label]="| $front | $answer | $auth | $hosts | n/a: no token support in this build | | | | | | | |"
    return
  fi
  port=$cgi_port
  [ "$front" = FastCGI ] && port=$fcgi_port
  file="$flows/$auth-$hosts"
  [ "$answer" = badauth ] && file="$flows/$auth-bad"
  local hosts_touched=("${all_hosts[@]}")
  [ "$hosts" = one ] && hosts_touched=("$(host 1)")
  [ "$answer" = good ] && poller_start "${hosts_touched[@]}"
  local app=""
  [ "$front" = FastCGI ] && app=${S_fastcgi_pid[$store]}
  BENCH_SEED=$((n_flow * 4001 % 65000)) APP_PID=$app run_wrk "$label" "$port" "$answer" /nic/update "$file"
  [ "$front" = FastCGI ] && [ "$answer" != badauth ] && cpu_md+=("| $label | $R_RPS | $R_CPU_APP | $R_CPU_NGINX |")
  settle
  printf '    %-38s %8s req/s  p50 %8s ms  p99 %8s ms  %s requests, %s unexpected, %s non-2xx\n' \
    "$label" "$R_RPS" "$R_P50" "$R_P99" "$R_REQS" "$R_UNEXPECTED" "$R_NON2XX"
  if [ "$answer" = good ]; then
    poller_stop "$label"
    check_rows "$label"
  fi
  local bind_ratio="" limit_label cpu_app="" cpu_nginx=""
  case "$store/$front/$answer" in
    bind/*/good) limit=$bind_rate limit_name="BIND, $conns clients" limit_label=$(dns_label bind "$conns" 1 udp) ;;
    pdns/*/good) limit=$pdns_rate limit_name="PowerDNS, $conns clients" limit_label=$(dns_label pdns "$conns" 1 udp) ;;
    */good) limit=$dns_rate limit_name="Knot, $conns clients" bind_ratio=$(ratio "$R_RPS" "$bind_rate") limit_label=$(dns_label knot "$conns" 1 udp) ;;
    */FastCGI/*) limit=$static_rate limit_name="nginx static" limit_label=limit-static ;;
    */CGI/*) limit=$hello_rate limit_name="CGI hello" limit_label=limit-hello ;;
  esac
  [ "$front" = FastCGI ] && [ "$answer" != badauth ] && cpu_app=$R_CPU_APP cpu_nginx=$R_CPU_NGINX
  tsv flow "$label" "$R_RPS" req/s "$R_P50" "$R_P99" "$limit_label" "$cpu_app" "$cpu_nginx"
  local wrong="$R_UNEXPECTED"
  [ "$wrong" != 0 ] && wrong="**$wrong WRONG**"
  F_rps[$label]=$R_RPS F_p50[$label]=$R_P50 F_p99[$label]=$R_P99
  flow_md[$label]="| $front | $answer | $auth | $hosts | **$R_RPS** | $R_REQS | $R_P50 | $R_P99 | $wrong | $limit_name | $(ratio "$R_RPS" "$limit") | $bind_ratio |"
}
run_flows() { # STORE good|other
  local f front answer auth hosts list=() last=""
  use_store "$1"
  case "$1" in
    sqlite) list=("${sqlite_flows[@]}") ;;
    postgres) list=("${postgres_flows[@]}") ;;
    mariadb) list=("${mariadb_flows[@]}") ;;
    bind) list=("${bind_flows[@]}") ;;
    pdns) list=("${pdns_flows[@]}") ;;
  esac
  for f in "${list[@]}"; do
    read -r front answer auth hosts <<<"$f"
    { [ "$2" = good ] && [ "$answer" = good ]; } || { [ "$2" != good ] && [ "$answer" != good ]; } || continue
    if [ "$front" != "$last" ] && selected "$(flow_label "$1" "$front" "$answer" "$auth" "$hosts")"; then
      last=$front
      echo "==> $front flows that $([ "$2" = good ] && echo "change addresses" || echo "change nothing"), ${S_name[$1]} ($conns connections, ${secs} s each)"
    fi
    flow "$front" "$answer" "$auth" "$hosts"
  done
}
for s in "${stores[@]}"; do run_flows "$s" other; done
use_store sqlite

# ---------------------------------------------------------------------------------------
# One CGI request per flow: wall time (median) and peak RSS, run as the web server would
runs=5
[ "$short" = 1 ] && runs=3
one_md=()
# One CGI request with exactly the CGI variables in its environment, none of them on a command
# line (the credential and the token would show in process listings), under /usr/bin/time.
cgi_request() { # QUERY AUTHORIZATION PROGRAM
  (
    while read -r v; do unset "$v" 2>/dev/null || true; done < <(compgen -e)
    export GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SCRIPT_NAME=/nic/update QUERY_STRING="$1" \
      REMOTE_ADDR=127.0.0.1 DDNS_CGI_CONFIG="$cfg"
    if [ -n "$2" ]; then export HTTP_AUTHORIZATION="$2"; fi
    exec "${web_prefix[@]}" /usr/bin/time -f '%M' -o "$web/rss" "$3"
  )
}
one_cgi() { # LABEL QUERY [AUTHORIZATION] -> median wall ms, max RSS KiB
  local label="$1" query="$2" auth="${3:-}" walls=() rss=0 t0 t1 r prog="$bin"
  [ "$label" = "CGI hello" ] && prog="$work/bin/cgi_hello"
  for n in $(seq "$runs"); do
    local q="${query//@N@/$n}"
    t0=$EPOCHREALTIME
    cgi_request "$q" "$auth" "$prog" >"$work/out/one" 2>/dev/null || true
    t1=$EPOCHREALTIME
    walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) * 1000 }')")
    r=$(tail -1 "$web/rss")
    [ "$r" -gt "$rss" ] && rss=$r
  done
  local median
  median=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
  printf '    %-24s %8s ms %8s KiB  (%s)\n' "$label" "$median" "$rss" "$(head -c 40 "$work/out/one" | tr '\r\n' '  ')"
  one_md+=("| $label | $median | $rss |")
  local key="one-${label// /-}"
  tsv one-request "${key,,}-wall" "$median" ms
  tsv one-request "${key,,}-rss" "$rss" KiB
}
if selected one-request; then
echo "==> one CGI request per flow (sqlite store)"
pw1="$(basic u1 "$(password 1)")"
one_cgi "CGI hello" ""
one_cgi "password good" "hostname=$(host 1)&myip=10.250.0.@N@" "$pw1"
set_address 1 "$(nochg_addr 1)"
one_cgi "password nochg" "hostname=$(host 1)&myip=$(nochg_addr 1)" "$pw1"
cfg_web=$cfg cfg="$web/config-no-web.toml"
one_cgi "password nochg, no [web]" "hostname=$(host 1)&myip=$(nochg_addr 1)" "$pw1"
cfg=$cfg_web
one_cgi "password badauth" "hostname=$(host 1)&myip=$(nochg_addr 1)" "$(basic u1 wrong-password)"
if [ "$tokens" = 1 ]; then
  tok1="$(cat "$flows/token-1")"
  one_cgi "token good" "hostname=$(host 1)&myip=10.251.0.@N@&token=$tok1"
  set_address 1 "$(nochg_addr 1)"
  one_cgi "token nochg" "hostname=$(host 1)&myip=$(nochg_addr 1)&token=$tok1"
  one_cgi "token badauth" "hostname=$(host 1)&myip=$(nochg_addr 1)&token=$(cut -f3 "$flows/token-bad")"
else
  one_md+=("| token (all) | n/a: no token support in this build | |")
fi
check_rows "one CGI request per flow"
fi

for s in "${stores[@]}"; do run_flows "$s" good; done
source scripts/bench-storm.sh
declare -A fastcgi_rss fastcgi_fds
for s in "${stores[@]}"; do
  fastcgi_rss[$s]=$(awk '/^VmRSS/ { print $2 }' "/proc/${S_fastcgi_pid[$s]}/status" 2>/dev/null || echo "?")
  fastcgi_fds[$s]=$(find "/proc/${S_fastcgi_pid[$s]}/fd" -mindepth 1 2>/dev/null | wc -l)
done
bin_size=$(stat -c %s "$bin")

# ---------------------------------------------------------------------------------------
# Expiry: batched (bench-expire.sh) against one message per host (timed on a sample)
if selected expire; then
echo "==> expiry of $expire_hosts hosts"
BENCH_BIN="$bin" scripts/bench-expire.sh "$expire_hosts" >"$work/out/expire.txt" 2>&1 || {
  violation "scripts/bench-expire.sh failed"
  cat "$work/out/expire.txt"
}
expire_batched=$(sed -n 's/^wall time: \([0-9.]*\) s.*/\1/p' "$work/out/expire.txt")
expire_summary=$(grep -i 'expired' "$work/out/expire.txt" | grep -v '^records' | head -1 || true)
echo "    batched: ${expire_batched:-?} s ($expire_summary)"
single=$("$work/bin/dns_load" --server "$dns" --zone "$zone" --key-file "$work/tsig.key" --expire "$expire_single")
single_secs=$(sed 's/.* seconds=\([0-9.]*\).*/\1/' <<<"$single")
expire_per_host=$(awk -v s="$single_secs" -v m="$expire_single" -v n="$expire_hosts" 'BEGIN { printf "%.1f", s * n / m }')
echo "    one message per host: $single_secs s for $expire_single hosts, so about $expire_per_host s for $expire_hosts"
[ -n "${expire_batched:-}" ] && tsv expire expire-batched "$expire_batched" s
tsv expire expire-one-per-message "$expire_per_host" s
fi

# ---------------------------------------------------------------------------------------
# Report (Markdown, for BENCHMARKS.md)
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$repo" diff --quiet HEAD 2>/dev/null || commit="$commit (with uncommitted changes)"
elapsed=$(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
mode="full"
[ "$short" = 1 ] && mode="short"
bind_version=""
[ "$use_bind" = 1 ] && bind_version=", BIND $(named -v | awk '{print $2}') ($([ "$use_bind_flows" = 1 ] && echo "limits and the flows against BIND" || echo "limits only"))"
# The servers beside Knot: BIND, then PowerDNS.
[ "$use_pdns" = 1 ] && bind_version="$bind_version, PowerDNS $(pdns_server --version 2>&1 | sed -n 's/.*Authoritative Server \([^ ]*\).*/\1/p' | head -1) with gsqlite3 ($([ "$use_pdns_flows" = 1 ] && echo "limits and the flows against PowerDNS" || echo "limits only"))"
pg_line=""
[ "$use_postgres" = 1 ] && pg_line=", PostgreSQL $pg_version (\`synchronous_commit = off\`, as SQLite's \`synchronous = NORMAL\`)"
{ [ "$use_mariadb" = 1 ] || [ "$use_mariadb_bind" = 1 ]; } &&
  pg_line="$pg_line, MariaDB $mariadb_version (\`innodb_flush_log_at_trx_commit = 2\`, as SQLite's \`synchronous = NORMAL\`)"
# The command that reproduces this run: the BENCH_ variables set, quoted when not plain.
command_line() {
  local v
  for v in BENCH_SHORT BENCH_PROFILE BENCH_SECONDS BENCH_DNS_SECONDS BENCH_CONNECTIONS BENCH_EXPIRE_HOSTS \
    BENCH_STORM_HOSTS BENCH_STORM_CONNECTIONS BENCH_STORM_ROUNDS BENCH_FLOWS BENCH_POSTGRES BENCH_MARIADB; do
    [ -n "${!v:-}" ] || continue
    if [[ ${!v} =~ ^[A-Za-z0-9_.,/-]*$ ]]; then printf '%s=%s ' "$v" "${!v}"; else printf "%s='%s' " "$v" "${!v}"; fi
  done
  echo "scripts/bench.sh${*:+ $*}"
}
# The results as data (BENCH_OUT/results.tsv, the format of benches/history/*.tsv), and
# their charts (scripts/charts.sh), kept whatever the run's verdict.
out_dir="${BENCH_OUT:-$repo/target/bench}"
umask 022 # for anyone to read; nothing secret is written from here on
mkdir -p "$out_dir"
{
  echo "# ddns-cgi benchmark results, written by scripts/bench.sh; one row per measurement."
  echo "# section: meta, limit, flow, storm, one-request, expire; limit: the row a flow's ratio is against."
  printf 'section\tlabel\tvalue\tunit\tp50_ms\tp99_ms\tlimit\tcpu_app_us\tcpu_nginx_us\n'
  printf 'meta\t%s\t%s\n' date "$(date -u +%Y-%m-%d)" commit "$commit" \
    version "$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" mode "$mode" profile "$profile" \
    seconds "$secs" dns_seconds "$dns_secs" connections "$conns" expire_hosts "$expire_hosts" \
    storm_hosts "$storm_hosts" storm_rounds "$storm_rounds" storm_connections "$(IFS=,; echo "${storm_conns[*]}")" \
    command "$(command_line "$@")" \
    machine "$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)); Knot $(knotd --version | awk '{print $NF}')"
  cat "$work/results.rows" 2>/dev/null || true
} >"$out_dir/results.tsv"
if command -v gnuplot >/dev/null; then
  scripts/charts.sh "$out_dir/results.tsv" "$out_dir" | sed 's/^==>/   /' || echo "!!! the charts were not drawn (scripts/charts.sh failed)"
else
  echo "!!! charts not drawn: gnuplot is missing (Debian package gnuplot-nox)"
fi
echo "==> results: $out_dir/results.tsv; charts: $out_dir/bench-*.svg"
echo
echo "## Run of $(date -u +%Y-%m-%d) on commit $commit ($mode mode, $profile build, ${elapsed} s)"
echo
echo "Command: \`$(command_line "$@")\`"
echo
cat <<REPORT
Machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, load average before the run $load_before, after $(cut -d' ' -f1-3 /proc/loadavg);
Knot $(knotd --version | awk '{print $NF}')$bind_version$pg_line, nginx $(nginx -v 2>&1 | sed 's|.*/||'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), fcgiwrap with $conns children, \`ddns-cgi fastcgi\` with its defaults ($workers workers) and the unit's environment (${unit_env[*]:-none}).
wrk: $conns connections (one thread each), ${secs} s per flow; DNS limit runs ${dns_secs} s each.${flows_re:+ Only what BENCH_FLOWS=\`$BENCH_FLOWS\` selects.}
REPORT
if [ "${#limits_md[@]}" -gt 0 ]; then
  cat <<REPORT

### Limits

| limit | rate | p50 ms | p99 ms | errors | answers ≥ 0.5 s |
|---|---|---|---|---|---|
$(printf '%s\n' "${limits_md[@]}")
REPORT
fi
if [ "${#cpu_md[@]}" -gt 0 ]; then
  cat <<REPORT

### CPU per request

CPU time (user + system, from \`/proc/PID/stat\`) of the FastCGI program and of nginx (master and
workers) during each run, divided by the requests answered. Less noisy than rates on a shared
machine, and it shows the ceiling of the FastCGI rows: wrk's share aside, a FastCGI request
costs nginx about twice what its static answer does, before the program's own.

| run | req/s | µs CPU per request, FastCGI program | µs CPU per request, nginx |
|---|---|---|---|
$(printf '%s\n' "${cpu_md[@]}")
REPORT
fi
if [ "${#console_md[@]}" -gt 0 ]; then
  cat <<REPORT

### Console pages

The web console (\`[web]\` on the sqlite store, the one the dyndns2 flows above and below
use): its login page, and the hosts page of a logged-in user (one session, its cookie on every
request), each against the hello of its transport.

| page | front | req/s | requests | p50 ms | p99 ms | unexpected answers | limit | ratio |
|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${console_md[@]}")
REPORT
fi
flow_rows=()
for front in CGI FastCGI; do for auth in password token; do
  for ah in "good one" "good many" "nochg one" "nochg many" "badauth one"; do
    read -r answer hosts <<<"$ah"
    l=$(flow_label "$front" "$answer" "$auth" "$hosts")
    [ -n "${flow_md[$l]:-}" ] && flow_rows+=("${flow_md[$l]}")
  done
done; done
if [ "${#flow_rows[@]}" -gt 0 ]; then
  cat <<REPORT

### Flows (SQLite)

These flows run against Knot. Ratios: \`good\` rows against Knot's rate of one-host updates from $conns clients over UDP, and (last column) against BIND's rate measured the same way; other FastCGI rows against nginx static; other CGI rows against the CGI hello.
"one" = all connections update one hostname; "many" = each connection its own hostname.

| front | answer | auth | hostnames | req/s | requests | p50 ms | p99 ms | unexpected answers | limit | ratio | ratio to BIND |
|---|---|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${flow_rows[@]}")
REPORT
fi
# SQLite beside each shared store: PostgreSQL, then MariaDB.
for db in postgres mariadb; do
  case "$db" in postgres) db_name=PostgreSQL db_flows=("${postgres_flows[@]}") ;; *) db_name=MariaDB db_flows=("${mariadb_flows[@]}") ;; esac
  db_rows=()
  for f in "${db_flows[@]}"; do
    read -r front answer auth hosts <<<"$f"
    l=$(flow_label "$front" "$answer" "$auth" "$hosts")
    [ -n "${F_rps[$db-$l]:-}" ] || continue
    q=""
    [ "$answer" = good ] && q=" | $(ratio "${F_rps[$db-$l]}" "$dns_rate") | $(ratio "${F_rps[$db-$l]}" "$bind_rate")"
    [ "$answer" = good ] || q=" | | "
    db_rows+=("| $front | $answer | $auth | ${F_rps[$l]:--} | ${F_p50[$l]:--} / ${F_p99[$l]:--} | **${F_rps[$db-$l]}** | ${F_p50[$db-$l]} / ${F_p99[$db-$l]} | $(ratio "${F_rps[$db-$l]}" "${F_rps[$l]:-0}")$q |")
  done
  [ "${#db_rows[@]}" -gt 0 ] || continue
  cat <<REPORT

### SQLite vs $db_name, many hostnames

The same flows on the two stores, one after the other in this run: each store has its own
config, \`ddns-cgi fastcgi\` and nginx servers, and its own $conns users and hostnames in the
one Knot zone; after each \`good\` flow every host's records equal its row on that store.

| front | answer | auth | SQLite req/s | SQLite p50 / p99 ms | $db_name req/s | $db_name p50 / p99 ms | $db_name / SQLite | $db_name / Knot | $db_name / BIND |
|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${db_rows[@]}")
REPORT
done
bind_rows=()
for f in "${bind_flows[@]}"; do
  read -r front answer auth hosts <<<"$f"
  l=$(flow_label "$front" "$answer" "$auth" "$hosts") lb=$(flow_label bind "$front" "$answer" "$auth" "$hosts")
  [ -n "${F_rps[$lb]:-}" ] || continue
  knot_cells="- | - | -"
  [ -n "${F_rps[$l]:-}" ] && knot_cells="${F_rps[$l]} | ${F_p50[$l]} / ${F_p99[$l]} | $(ratio "${F_rps[$l]}" "$dns_rate")"
  bind_rows+=("| $front | $answer | $auth | $hosts | $knot_cells | **${F_rps[$lb]}** | ${F_p50[$lb]} / ${F_p99[$lb]} | $(ratio "${F_rps[$lb]}" "$bind_rate") | $(ratio "${F_rps[$lb]}" "${F_rps[$l]:-0}") |")
done
if [ "${#bind_rows[@]}" -gt 0 ]; then
  cat <<REPORT

### Knot vs BIND, \`good\`, many hostnames

The same flows against the two DNS servers, one after the other in this run: against BIND
with a second SQLite database, config (\`server\` = BIND), \`ddns-cgi fastcgi\` and nginx
servers, its own $conns users and hostnames in BIND's copy of the zone; after each flow every
host's records on BIND equal its row. Each ratio is to that server's own rate of one-host
updates from $conns clients over UDP (Limits).

| front | answer | auth | hostnames | Knot req/s | Knot p50 / p99 ms | / Knot's rate | BIND req/s | BIND p50 / p99 ms | / BIND's rate | BIND / Knot |
|---|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${bind_rows[@]}")
REPORT
fi
pdns_rows=()
for f in "${pdns_flows[@]}"; do
  read -r front answer auth hosts <<<"$f"
  l=$(flow_label "$front" "$answer" "$auth" "$hosts") lp=$(flow_label pdns "$front" "$answer" "$auth" "$hosts")
  [ -n "${F_rps[$lp]:-}" ] || continue
  knot_cells="- | - | -"
  [ -n "${F_rps[$l]:-}" ] && knot_cells="${F_rps[$l]} | ${F_p50[$l]} / ${F_p99[$l]} | $(ratio "${F_rps[$l]}" "$dns_rate")"
  pdns_rows+=("| $front | $answer | $auth | $hosts | $knot_cells | **${F_rps[$lp]}** | ${F_p50[$lp]} / ${F_p99[$lp]} | $(ratio "${F_rps[$lp]}" "$pdns_rate") | $(ratio "${F_rps[$lp]}" "${F_rps[$l]:-0}") |")
done
if [ "${#pdns_rows[@]}" -gt 0 ]; then
  cat <<REPORT

### Knot vs PowerDNS, \`good\`, many hostnames

The same flows against PowerDNS (gsqlite3, set up from contrib/powerdns/), as against BIND
above: a third SQLite database, config, \`ddns-cgi fastcgi\` and nginx servers, its own $conns
users and hostnames in PowerDNS's copy of the zone; after each flow every host's records on
PowerDNS equal its row. Each ratio is to that server's own rate of one-host updates from
$conns clients over UDP (Limits).

| front | answer | auth | hostnames | Knot req/s | Knot p50 / p99 ms | / Knot's rate | PowerDNS req/s | PowerDNS p50 / p99 ms | / PowerDNS's rate | PowerDNS / Knot |
|---|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${pdns_rows[@]}")
REPORT
fi
storm_report
if selected one-request; then
  cat <<REPORT

### One CGI request (median of $runs wall times, spawned as the web user without fcgiwrap; peak RSS)

| request | wall ms | peak RSS KiB |
|---|---|---|
$(printf '%s\n' "${one_md[@]}")
REPORT
fi
echo
echo "Binary ($profile build): $bin_size bytes ($((bin_size / 1024)) KiB). \`ddns-cgi fastcgi\` after the run: $(for s in "${stores[@]}"; do printf '%s%s KiB resident, %s open file descriptors (%s)' "${sep:-}" "${fastcgi_rss[$s]}" "${fastcgi_fds[$s]}" "$s"; sep="; "; done)."
if selected expire; then
  cat <<REPORT

### Expiry of $expire_hosts hostnames

| how | wall time |
|---|---|
| batched (\`scripts/bench-expire.sh $expire_hosts\`: $expire_summary) | ${expire_batched:-?} s |
| one guarded deletion per message (benches/programs/dns_load.rs --expire, $expire_single hosts timed, extrapolated) | about $expire_per_host s |
REPORT
fi

if [ "$violations" -gt 0 ]; then
  echo
  echo "!!! $violations CORRECTNESS VIOLATION(S):"
  cat "$work/violations"
  exit 1
fi
echo
echo "correctness: every flow answered as expected, no 911, DNS equals the rows after every good flow, the poller saw one address at all times"
