# The storm of scripts/bench.sh (issue 25), sourced by it after the `good` flows, with its
# helpers, stores, nginx and DNS servers running: the minute after a provider's outage, when
# every router behind it reports a new address at once. BENCH_STORM_HOSTS hostnames per store,
# each with its own token, all made in one transaction by `ddns-cgi hostname import`; wrk
# (benches/storm.lua) at each of BENCH_STORM_CONNECTIONS keep-alive connections sends each
# host BENCH_STORM_ROUNDS requests, each with a new address, through nginx and the store's
# `ddns-cgi fastcgi` (the shipped unit's settings: its environment, the default workers and
# connections). Per run (label storm-STORE-SERVER-cN), as rows of results.tsv (section storm):
#   LABEL                    updates/s over the storm (first request to last answer), p50/p99
#   LABEL-max                the slowest answer, ms
#   LABEL-over-500ms, -over-1s   answers that took 0.5 s or 1 s or more (nginx's
#                            $request_time), as the limit rows count the DNS server's stalls
#   LABEL-dns-stalls         the DNS server's own stalls: exchanges of 0.5 s or more, which
#                            the program logs at info (Knot at times starts a queued update
#                            only at the next whole second, with nothing else to do); each
#                            holds every request in flight, since the zone's changes wait for
#                            the run in flight
#   LABEL-held-by-dns-stalls answers in flight for half a stall or more: a stall is the
#                            window of 0.4 s or more in which no answer came (the longest
#                            ones, as many as the stalls logged), nginx's $msec less its
#                            $request_time the answer's start
#   LABEL-p99-apart-from-dns-stalls, -over-500ms-apart-from-dns-stalls   the p99 (nginx's
#                            times) and the answers of 0.5 s or more without those held
#   LABEL-hosts-per-message  host changes (ddns_updates_total{answer="good"}) per UPDATE
#                            message the DNS server received: Knot logs how many messages each
#                            commit applies, BIND bumps the serial once per message
#   LABEL-consistent         seconds from the first request until every host's DNS answer
#                            equals its row (the end of the first comparison that found so)
#   LABEL-cpu-dns, -cpu-db, -cpu-wrk   µs of CPU per request of the DNS server, the database server
#                            (its processes; SQLite runs in the program) and wrk; the
#                            program's and nginx's are the row's cpu_app_us and cpu_nginx_us
# Each row's limit is the server's own rate of one-host updates from as many clients
# (limit-SERVER-cN-h1-udp, measured in the same run). Every answer must be `good` with one of
# the thread's addresses, none may time out, and after each run every host has an address and
# DNS equals the rows; otherwise a correctness violation.
# Expects from bench.sh: selected, use_store, ddns, as_web, tsv, ratio, violation, settle,
# cpu_ticks, nginx_pids, per_request, limit_rate, stores, S_*, zone, work, web, flows.

storm_md=()
storm_runs=0
# The seconds a storm run may take before wrk is stopped with hosts still unanswered: well
# above the slowest rate measured (650 requests/s, issue 25), and a minute at least.
storm_max_seconds=$((storm_hosts * storm_rounds / 100 + 60))

storm_users=16
storm_host_re() { echo "^${S_prefix[$store]}s[0-9]+\\.${zone//./\\.}\$"; }
# The current store's storm hosts, users (STORM_USERS, the hosts shared out among them) and
# tokens, in one `hostname import`; writes $flows/storm (FQDN TAB TOKEN per line, for
# benches/storm.lua) and $flows/storm-hosts.
storm_setup() {
  local p="${S_prefix[$store]}" i t0
  [ -s "$flows/storm" ] && return 0
  for i in $(seq "$storm_users"); do
    password "s$i" | ddns user add "${p}su$i" "${p}su$i@example.test" --password-stdin >/dev/null
  done
  awk -v n="$storm_hosts" -v p="$p" -v z="$zone" -v u="$storm_users" 'BEGIN {
    for (i = 1; i <= n; i++)
      printf "{\"user\":\"%ssu%d\",\"hostname\":\"%ss%d.%s\",\"zone\":\"%s\"}\n", p, i % u + 1, p, i, z, z
  }' >"$flows/storm-import.jsonl"
  t0=$EPOCHREALTIME
  # The tokens are secrets: on stdout into a file only this run reads, never on a command line.
  ddns hostname import - <"$flows/storm-import.jsonl" >"$flows/storm-tokens.jsonl" ||
    { violation "\`hostname import\` of $storm_hosts hosts failed ($store store)"; return 1; }
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    h = json.loads(line)
    print(h["hostname"].rstrip(".") + "\t" + h["token"])' "$flows/storm-tokens.jsonl" >"$flows/storm"
  cut -f1 "$flows/storm" >"$flows/storm-hosts"
  [ "$(wc -l <"$flows/storm")" = "$storm_hosts" ] ||
    { violation "\`hostname import\` printed $(wc -l <"$flows/storm") tokens for $storm_hosts hosts ($store store)"; return 1; }
  printf '    %s store: %s hostnames with their tokens imported in one transaction in %s s\n' \
    "$store" "$storm_hosts" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
}
# `FQDN ADDRESS` of every storm host of the current store, from DNS and from the rows, sorted.
storm_dns_view() {
  # Four kdig at a time, a thousand names each, each into its own file (their output would
  # interleave in one pipe).
  local chunk pids=()
  rm -f "$work/storm-q."*
  split -l 1000 "$flows/storm-hosts" "$work/storm-q."
  for chunk in "$work/storm-q."*; do
    mapfile -t names <"$chunk"
    local args=() h
    for h in "${names[@]}"; do args+=("$h" A); done
    kdig +timeout=2 +retry=1 @127.0.0.1 -p "$dns_port" +noall +answer "${args[@]}" >"$chunk.out" 2>/dev/null &
    pids+=("$!")
    if [ "${#pids[@]}" -ge 4 ]; then wait "${pids[0]}" || true; pids=("${pids[@]:1}"); fi
  done
  for h in "${pids[@]}"; do wait "$h" || true; done
  cat "$work/storm-q."*.out | awk '$4 == "A" { sub(/\.$/, "", $1); print $1, $5 }' | sort
}
storm_rows_view() {
  ddns hostname list --json | python3 -c '
import json, re, sys
want = re.compile(sys.argv[1])
for h in json.load(sys.stdin):
    name = h["hostname"].rstrip(".")
    if want.match(name):
        print(name, h["ipv4"] or "-")' "$(storm_host_re)" | sort
}
# The `good` counter of the current store's metrics.
storm_good_total() {
  ddns metrics | awk '/^ddns_updates_total\{answer="good"\}/ { print $2; found = 1 } END { if (!found) print 0 }'
}
# UPDATE messages the server has received so far: Knot logs how many each commit applies
# (`DDNS, processing N updates`: it merges the messages waiting into one commit); BIND
# commits each message alone and bumps the serial once per message.
storm_messages() { # knot|bind
  case "$1" in
    knot) sed -n 's/.*DDNS, processing \([0-9]*\) updates.*/\1/p' "$work/knot/knot.log" | awk '{ n += $1 } END { print n + 0 }' ;;
    bind) kdig +timeout=2 +retry=1 @127.0.0.1 -p "$BIND_PORT" "$zone" SOA +short | awk '{ print $3 + 0 }' ;;
  esac
}
storm_db_pids() { # the database server's processes, for a postgres or mariadb store
  case "$store" in
    postgres*) local pm; pm=$(head -1 "$work/pg/data/postmaster.pid" 2>/dev/null) && echo "$pm" $(pgrep -P "$pm") ;;
    mariadb*) echo "$MARIADB_PID" ;;
  esac
}

# From access log lines (`$request_time $status $msec`) on stdin and the number of the DNS
# server's stalls: the answers held by them, the p99 in ms without those, and how many of the
# rest took 0.5 s or more. Each stall shows as a window with no answer: the zone's changes all
# wait for the run in flight. The windows of 0.4 s or more (from the first request's start to
# the last answer) are the candidates, the longest ones, as many as the stalls, are taken; an
# answer in flight for half a window or more is held by it.
storm_apart_from_stalls() { # STALLS
  local marked
  marked=$(awk '$2 == 200' | sort -n -k3 | awk -v stalls="$1" '
    { n++; rt[n] = $1; end[n] = $3; start[n] = $3 - $1; if (n == 1 || start[n] < first) first = start[n] }
    END {
      prev = first; g = 0
      for (i = 1; i <= n; i++) { if (end[i] - prev >= 0.4) { g++; ga[g] = prev; gb[g] = end[i]; gl[g] = end[i] - prev } prev = end[i] }
      for (s = 1; s <= stalls && s <= g; s++) {
        best = 0
        for (k = 1; k <= g; k++) if (!taken[k] && (best == 0 || gl[k] > gl[best])) best = k
        taken[best] = 1
      }
      for (i = 1; i <= n; i++) {
        h = 0
        for (k = 1; k <= g; k++) if (taken[k]) {
          lo = start[i] > ga[k] ? start[i] : ga[k]; hi = end[i] < gb[k] ? end[i] : gb[k]
          if (hi - lo >= gl[k] / 2) h = 1
        }
        print (h ? "held" : "kept"), rt[i]
      }
    }')
  awk '$1 == "kept" { print $2 }' <<<"$marked" |
    sort -n | awk -v held="$(grep -c '^held' <<<"$marked" || true)" '
      { m++; v[m] = $1; if ($1 >= 0.5) slow++ }
      END { want = int(m * 0.99); if (want < m * 0.99) want++; printf "%d %.2f %d\n", held, (m ? v[want] : 0) * 1000, slow + 0 }'
}

storm_run() { # TARGET CONNECTIONS
  local target="$1" c="$2" label server threads seed out dns_pid
  label=$(storm_label "$target" "$c")
  selected "$label" || return 0
  server=${target##*-}
  use_store "${storm_store[$target]}"
  storm_setup || return 0
  dns_pid=$KNOT_PID
  [ "$server" = bind ] && dns_pid=$BIND_PID
  threads=$(storm_threads "$c")
  # A thread stops at its last expected answer with up to its other connections' requests in
  # flight, unanswered and uncounted (the server still makes those changes): the figures are
  # over the answered requests, skewed by up to CONNECTIONS / (hosts x rounds).
  [ $((storm_hosts * storm_rounds)) -ge $((10 * c)) ] ||
    echo "!!! $label: $((storm_hosts * storm_rounds)) requests for $c connections: up to $c more in flight at the end skew its figures"
  storm_runs=$((storm_runs + 1))
  # A new second octet for every run, past the last round of the one before (benches/storm.lua).
  seed=$((storm_runs * (storm_rounds + 2) % 256))
  out="$work/out/$label.txt"
  local app0 ng0 dns0 db0 good0 msg0 db_pids log0 flog0 flog="$web/fastcgi-$store.log"
  log0=$(wc -l <"$web/access.log") flog0=$(wc -l <"$flog")
  db_pids=$(storm_db_pids)
  good0=$(storm_good_total) msg0=$(storm_messages "$server")
  # shellcheck disable=SC2046,SC2086
  app0=$(cpu_ticks "${S_fastcgi_pid[$store]}") ng0=$(cpu_ticks $(nginx_pids)) dns0=$(cpu_ticks "$dns_pid") db0=$(cpu_ticks $db_pids)
  local t0=$EPOCHREALTIME
  storm_wrk "$out" "http://127.0.0.1:$fcgi_port/nic/update" "$threads" "$c" "$flows/storm" "$storm_rounds" "$seed" "$storm_max_seconds" ||
    violation "$label: wrk failed"
  local app1 ng1 dns1 db1
  # shellcheck disable=SC2046,SC2086
  app1=$(cpu_ticks "${S_fastcgi_pid[$store]}") ng1=$(cpu_ticks $(nginx_pids)) dns1=$(cpu_ticks "$dns_pid") db1=$(cpu_ticks $db_pids)
  local line
  line=$(grep '^RESULT ' "$out" || echo "RESULT")
  local local_requests=0 local_seconds=0 local_rps=0 local_p50_ms=0 local_p99_ms=0 local_max_ms=0 \
    local_unexpected=0 local_n911=0 local_socket_errors=0 local_complete=0 local_non2xx=0
  eval "$(sed 's/^RESULT //; s/\([a-z0-9_]*\)=\([^ ]*\)/local_\1=\2;/g' <<<"$line")"
  local reqs=$local_requests
  if [ "$reqs" = 0 ]; then violation "$label: no request completed"; cat "$out"; fi
  if [ "$local_unexpected" != 0 ] || [ "$local_socket_errors" != 0 ]; then
    violation "$label: $local_unexpected unexpected answers ($local_n911 were 911, $local_non2xx not 2xx), $local_socket_errors socket errors or timeouts of $reqs requests"
    grep '^SAMPLE ' "$out" | sed 's/^SAMPLE /  e.g. /' || true
  fi
  [ "$local_complete" = 1 ] || violation "$label: not every host had its $storm_rounds answers within $storm_max_seconds s"
  # Until every host's DNS answer equals its row: the requests wrk left in flight finish too.
  local rows dnsv t_cons="" deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    rows=$(storm_rows_view) dnsv=$(storm_dns_view)
    if [ "$rows" = "$dnsv" ]; then
      t_cons=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
      break
    fi
    sleep 0.1
  done
  if [ -z "$t_cons" ]; then
    violation "$label: DNS and rows still differ a minute after the storm ($store store)"
    diff <(echo "$rows") <(echo "$dnsv") | sed 's/^</  row:/; s/^>/  dns:/' | grep -E 'row:|dns:' | head -10 || true
  elif grep -q ' -$' <<<"$rows"; then
    violation "$label: $(grep -c ' -$' <<<"$rows") hosts have no address after the storm"
  fi
  settle
  local slow slow1
  read -r slow slow1 < <(tail -n +$((log0 + 1)) "$web/access.log" |
    awk '$2 == 200 && $1 >= 0.5 { n++ } $2 == 200 && $1 >= 1 { m++ } END { print n + 0, m + 0 }')
  # The DNS server's stalls, from the program's log, and the answers they held.
  local stalls held p99_apart slow_apart
  stalls=$(tail -n +$((flog0 + 1)) "$flog" | grep -c '\[INFO\] .* hostnames: DNS exchange with .* took [0-9]* ms$' || true)
  read -r held p99_apart slow_apart < <(tail -n +$((log0 + 1)) "$web/access.log" | storm_apart_from_stalls "$stalls")
  good=$(($(storm_good_total) - good0)) msgs=$(($(storm_messages "$server") - msg0))
  hpm=$(awk -v g="$good" -v m="$msgs" 'BEGIN { if (m <= 0) print "-"; else printf "%.1f", g / m }')
  local cpu_app cpu_nginx cpu_dns cpu_db="-" cpu_wrk
  cpu_app=$(per_request $((app1 - app0)) "$reqs") cpu_nginx=$(per_request $((ng1 - ng0)) "$reqs")
  cpu_dns=$(per_request $((dns1 - dns0)) "$reqs") cpu_wrk=$(per_request "$STORM_WRK_TICKS" "$reqs")
  [ -n "$db_pids" ] && cpu_db=$(per_request $((db1 - db0)) "$reqs")
  local limit_label limit
  limit_label=$(dns_label "$server" "$c" 1 udp)
  limit=${limit_rate[$limit_label]:-}
  printf '    %-28s %8s updates/s  p50 %s ms  p99 %s ms  max %s ms  (%s answers took 0.5 s or more, %s 1 s or more)  %s requests in %s s; %s host changes in %s messages (%s a message); DNS equals the rows %s s after the first request\n' \
    "$label" "$local_rps" "$local_p50_ms" "$local_p99_ms" "$local_max_ms" "$slow" "$slow1" "$reqs" "$local_seconds" "$good" "$msgs" "$hpm" "${t_cons:-?}"
  printf '    %-28s the DNS server stalled %s times (exchanges of 0.5 s or more), holding %s answers; apart from them p99 %s ms, %s answers took 0.5 s or more (nginx'"'"'s times)\n' \
    "" "$stalls" "$held" "$p99_apart" "$slow_apart"
  printf '    %-28s µs CPU per request: program %s, nginx %s, %s %s, database server %s, wrk %s; %s alone from %s clients: %s updates/s (ratio %s)\n' \
    "" "$cpu_app" "$cpu_nginx" "$server" "$cpu_dns" "$cpu_db" "$cpu_wrk" "$server" "$c" "${limit:-?}" "$(ratio "$local_rps" "${limit:-0}")"
  tsv storm "$label" "$local_rps" updates/s "$local_p50_ms" "$local_p99_ms" "$limit_label" "$cpu_app" "$cpu_nginx"
  tsv storm "$label-max" "$local_max_ms" ms
  tsv storm "$label-over-500ms" "$slow" answers
  tsv storm "$label-over-1s" "$slow1" answers
  tsv storm "$label-dns-stalls" "$stalls" stalls
  tsv storm "$label-held-by-dns-stalls" "$held" answers
  tsv storm "$label-p99-apart-from-dns-stalls" "$p99_apart" ms
  tsv storm "$label-over-500ms-apart-from-dns-stalls" "$slow_apart" answers
  tsv storm "$label-hosts-per-message" "$hpm" hosts
  [ -n "$t_cons" ] && tsv storm "$label-consistent" "$t_cons" s
  tsv storm "$label-cpu-dns" "$cpu_dns" us
  [ "$cpu_db" != "-" ] && tsv storm "$label-cpu-db" "$cpu_db" us
  tsv storm "$label-cpu-wrk" "$cpu_wrk" us
  local db_name=SQLite server_name=Knot
  case "$target" in postgres-*) db_name=PostgreSQL ;; mariadb-*) db_name=MariaDB ;; esac
  [ "$server" = bind ] && server_name=BIND
  storm_md+=("| $db_name | $server_name | $c | **$local_rps** | $reqs | $local_p50_ms / $local_p99_ms / $local_max_ms | $slow / $slow1 | $stalls / $held / $p99_apart / $slow_apart | $hpm | ${t_cons:-?} | ${limit:--} | $(ratio "$local_rps" "${limit:-0}") | $cpu_app / $cpu_nginx / $cpu_dns / $cpu_db / $cpu_wrk |")
}

if any_selected '^storm-'; then
  # wrk, nginx and the FastCGI server each hold a descriptor per connection.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  if ! ddns hostname import --help >/dev/null 2>&1; then
    echo "!!! n/a: the storm needs \`ddns-cgi hostname import\`, missing in this build"
  else
    echo "==> the storm: $storm_hosts hostnames per store with their own tokens, $storm_rounds requests each, at ${storm_conns[*]} connections"
    for t in "${storm_targets[@]}"; do
      for c in "${storm_conns[@]}"; do storm_run "$t" "$c"; done
    done
  fi
  use_store sqlite
fi

# The storm's part of the Markdown report.
storm_report() {
  [ "${#storm_md[@]}" -gt 0 ] || return 0
  cat <<REPORT

### The storm: $storm_hosts hostnames, each its own token, $storm_rounds new addresses each

Every request another host and a new address (\`good\`), through nginx and \`ddns-cgi fastcgi\`
with the shipped unit's settings, from wrk (benches/storm.lua) at each number of keep-alive
connections; a run ends when every host has had its $storm_rounds answers. Slow answers
(nginx's \$request_time) are counted as the limit rows count the server's stalls. DNS stalls:
the DNS server's own, exchanges of 0.5 s or more (the program logs them at info); each holds
every request in flight, since the zone's changes wait for the run in flight. Held: the answers
in flight for half a stall or more; then the p99 (nginx's times) and the answers of 0.5 s or
more without them. Hosts per message: host changes per UPDATE message the server received
(Knot's log, BIND's serial).
Consistent: seconds from the first request until every host's DNS answer equals its row.
Ratio: to the server's own rate of one-host updates from as many clients (Limits). CPU per
request, in µs: the program, nginx, the DNS server, the database server (PostgreSQL or MariaDB), wrk.

| store | server | connections | updates/s | requests | p50 / p99 / max ms | answers ≥ 0.5 s / ≥ 1 s | DNS stalls / held / p99 ms / ≥ 0.5 s without them | hosts per message | consistent s | server alone | ratio | µs CPU: program / nginx / DNS / database / wrk |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${storm_md[@]}")
REPORT
}
