#!/usr/bin/env bash
# Draws the benchmark's charts (SVG, with gnuplot) from a results file in the format
# scripts/bench.sh writes (TSV, one row per measurement: section, label, value, unit, p50_ms,
# p99_ms, limit, cpu_app_us, cpu_nginx_us; `#` lines are comments, `meta` rows the run's date,
# commit and command). Each chart sets a flow's rate beside the limit it is measured against,
# with the ratio written on the bar:
#   bench-good.svg    `good` updates against the DNS server's own rate (Knot, BIND)
#   bench-nochg.svg   FastCGI requests that change nothing against nginx's static answer
#   bench-cgi.svg     CGI requests against the smallest CGI program through the same fcgiwrap
#   bench-stores.svg  SQLite against PostgreSQL and MariaDB, the many-hostname flows
#   bench-dns.svg     the DNS servers' own rate by hosts per message and clients
#   bench-storm.svg   the storm's rate (`good`, a host per request) by connections, on each
#                     store and server, beside each server's own rate from as many clients
# A chart whose rows are all missing from the file (a run that BENCH_FLOWS narrowed) is not
# drawn; a missing row leaves its bar out. Needs gnuplot (Debian: gnuplot-nox) and the
# DejaVu fonts (fonts-dejavu-core).
# Usage: scripts/charts.sh RESULTS.tsv OUTDIR
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: scripts/charts.sh RESULTS.tsv OUTDIR" >&2
  exit 2
fi
data="$1" out="$2"
[ -r "$data" ] || { echo "error: cannot read the results file \`$data\`" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "error: gnuplot is missing (Debian package gnuplot-nox): run scripts/install-deps.sh" >&2; exit 2; }
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The run's meta rows: date, commit, version, seconds.
meta() { awk -F'\t' -v k="$1" '$1 == "meta" && $2 == k { print $3; exit }' "$data"; }
run_date="$(meta date)" run_commit="$(meta commit)" run_version="$(meta version)" run_secs="$(meta seconds)"
run_conns="$(meta connections)" run_mode="$(meta mode)" run_profile="$(meta profile)"
run_conns="${run_conns:-8}"
# `abc1234 (with uncommitted changes)` is written `abc1234+`.
case "$run_commit" in *" (with uncommitted changes)") run_commit="${run_commit%% *}+" ;; esac
subtitle="${run_version:+$run_version at }${run_commit:-?}, ${run_date:-?}: ${run_mode:-full} mode, ${run_profile:-release} build, ${run_conns} connections, ${run_secs:-?} s a flow"
run_dns_secs="$(meta dns_seconds)"
subtitle_dns="${run_version:+$run_version at }${run_commit:-?}, ${run_date:-?}: ${run_mode:-full} mode, ${run_dns_secs:-?} s a measurement"

# The value of a row, or nothing.
value() { awk -F'\t' -v l="$1" '$1 != "meta" && $2 == l { print $3; exit }' "$data"; }

# Writes one bar's line: LABEL VALUE-ROW COLOUR [REFERENCE-ROW REFERENCE-NAME]. The bar's
# text is its value and, with a reference, the ratio to it. Nothing when the row is missing.
bar() {
  local label="$1" v ref="" unit="${UNIT:-req/s}"
  v="$(value "$2")"
  [ -n "$v" ] || return 0
  [ -n "${4:-}" ] && ref="$(value "$4")"
  awk -v label="$label" -v v="$v" -v ref="$ref" -v name="${5:-}" -v colour="$3" -v unit="$unit" '
    function thousands(x,   s, i, out) {
      s = sprintf(x >= 100 ? "%.0f" : "%.1f", x)
      i = index(s, "."); if (i == 0) i = length(s) + 1
      out = substr(s, i)
      s = substr(s, 1, i - 1)
      while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
      return s out
    }
    BEGIN {
      text = thousands(v) " " unit
      if (ref != "" && ref > 0) {
        r = v / ref
        text = text sprintf(r < 1 ? "  (%.2f of %s)" : "  (%.2f× %s)", r, name)
      }
      printf "%s\t%s\t%s\t%s\n", label, v, text, colour
    }'
}
gap() { echo "-"; }

# The legend: a dummy plot per colour the bars use, in a fixed order.
key_entries() { # BARS.dat
  local colour name
  while IFS=: read -r colour name; do
    if awk -F'\t' -v c="$colour" '$5 == c { found = 1 } END { exit !found }' "$1"; then
      printf ', NaN with boxes lc rgb %s title "%s"' "$colour" "$name"
    fi
  done <<<"$limit_c:the limit, measured alone
$ref_c:a program that does no work
$sqlite_c:ddns-cgi, SQLite
$pg_c:ddns-cgi, PostgreSQL
$mdb_c:ddns-cgi, MariaDB"
}

# Draws a horizontal bar chart: OUT TITLE XLABEL ROWS [logscale]. ROWS: `label TAB value TAB
# text TAB colour` per bar, top to bottom; a `-` line leaves a gap.
draw_bars() {
  local file="$1" title="$2" xlabel="$3" rows="$4" log="${5:-}"
  local n
  n=$(grep -cv '^-$' "$rows" || true)
  if [ "$n" = 0 ]; then
    echo "    (not drawn: no rows for $(basename "$file"))"
    return 0
  fi
  awk -F'\t' '$0 == "-" { y += 0.6; next } { y += 1; printf "%s\t%s\t%s\t%s\t%s\n", y, $2, $1, $3, $4 }' "$rows" >"$tmp/bars.dat"
  local ymax max height tics
  ymax=$(awk -F'\t' 'END { print $1 }' "$tmp/bars.dat")
  max=$(awk -F'\t' '$2 > m { m = $2 } END { print m }' "$tmp/bars.dat")
  height=$(awk -v y="$ymax" 'BEGIN { printf "%d", 170 + 36 * y }')
  tics=$(awk -F'\t' '{ gsub(/"/, "", $3); printf "%s\"%s\" %s", (NR > 1 ? ", " : ""), $3, $1 }' "$tmp/bars.dat")
  local xrange="set xrange [0:$max * 1.75]" xscale="" xlow=0
  if [ -n "$log" ]; then
    xrange="set xrange [1:$max * 12]"
    xscale="set logscale x 10"
    xlow=1
  fi
  gnuplot <<GNUPLOT
set terminal svg size 960,$height fixed noenhanced font "DejaVu Sans,13" background rgb "white"
set output "$file"
set label 1 "$title" at screen 0.5, screen 1 center offset 0, -1.3 font ",15"
set label 2 "$subtitle" at screen 0.5, screen 1 center offset 0, -2.7 font ",12" tc rgb "#444444"
set tmargin 5
set xlabel "$xlabel"
$xrange
$xscale
set yrange [$ymax + 0.7:0.3]
set datafile separator "\t"
set ytics ($tics) nomirror scale 0
set xtics nomirror
set format x "%.0f"
set grid xtics lc rgb "#dddddd"
set border 3 lc rgb "#888888"
set tics textcolor rgb "#222222"
set style fill solid 0.9 border -1
set lmargin 32
set rmargin 4
set bmargin 6
set key at screen 0.5, screen 0.015 center bottom vertical maxrows 1 reverse Left samplen 1.5 width -3 font ",12"
plot "$tmp/bars.dat" using (\$2 / 2):1:($xlow):2:(\$1 - 0.36):(\$1 + 0.36):5 with boxxyerror lc rgb variable notitle, \
     "" using 2:1:4 with labels left offset char 0.6, 0 font "DejaVu Sans,12" notitle$(key_entries "$tmp/bars.dat")
GNUPLOT
  echo "    $file"
}

# Colours: the limit a row is measured against, the no-work reference programs, ddns-cgi on
# SQLite (Knot or BIND), ddns-cgi on PostgreSQL.
# As gnuplot's `lc rgb variable` reads them: 0xRRGGBB in decimal.
limit_c=8355711 ref_c=12105912 sqlite_c=2062260 pg_c=15106335 mdb_c=9725885 # 7f7f7f b8b8b8 1f77b4 e6811f 9467bd

echo "==> charts of $data into $out"
# `good`: each server's own rate of one-host updates from as many clients, then the flows.
{
  export UNIT=updates/s
  bar "Knot alone (its own rate)" limit-knot-c${run_conns}-h1-udp "$limit_c"
  bar "FastCGI, token" fastcgi-good-token-many "$sqlite_c" limit-knot-c${run_conns}-h1-udp Knot
  bar "FastCGI, password" fastcgi-good-password-many "$sqlite_c" limit-knot-c${run_conns}-h1-udp Knot
  bar "CGI, token" cgi-good-token-many "$sqlite_c" limit-knot-c${run_conns}-h1-udp Knot
  bar "FastCGI, token, PostgreSQL" postgres-fastcgi-good-token-many "$pg_c" limit-knot-c${run_conns}-h1-udp Knot
  gap
  bar "BIND alone (its own rate)" limit-bind-c${run_conns}-h1-udp "$limit_c"
  bar "FastCGI, token" fastcgi-good-token-many-bind "$sqlite_c" limit-bind-c${run_conns}-h1-udp BIND
  bar "FastCGI, password" fastcgi-good-password-many-bind "$sqlite_c" limit-bind-c${run_conns}-h1-udp BIND
  bar "CGI, token" cgi-good-token-many-bind "$sqlite_c" limit-bind-c${run_conns}-h1-udp BIND
} | sed '/^-$/{N;/^-\n-$/D}' >"$tmp/good"
unset UNIT
draw_bars "$out/bench-good.svg" "Address changes (good), each client its own hostname, against the DNS server alone" \
  "updates per second (the server alone: signed RFC 2136 UPDATEs of one host each, from as many clients)" "$tmp/good"

# FastCGI `nochg`: nginx's static answer, the no-work FastCGI program, then ours.
{
  bar "nginx static answer" limit-static "$limit_c"
  bar "FastCGI hello (no work)" limit-fcgi-hello "$ref_c" limit-static static
  bar "nochg, token, many hosts" fastcgi-nochg-token-many "$sqlite_c" limit-static static
  bar "nochg, token, one host" fastcgi-nochg-token-one "$sqlite_c" limit-static static
  bar "nochg, cached password" fastcgi-nochg-password-many "$sqlite_c" limit-static static
  bar "badauth, wrong token" fastcgi-badauth-token-one "$sqlite_c" limit-static static
  bar "nochg, token, PostgreSQL" postgres-fastcgi-nochg-token-many "$pg_c" limit-static static
} >"$tmp/nochg"
draw_bars "$out/bench-nochg.svg" "FastCGI: requests that change nothing, against nginx's own static answer" \
  "requests per second through nginx" "$tmp/nochg"

# CGI: the smallest compiled CGI program through the same fcgiwrap, then ours.
{
  bar "CGI hello (no work)" limit-hello "$limit_c"
  bar "nochg, token" cgi-nochg-token-many "$sqlite_c" limit-hello "CGI hello"
  bar "badauth, wrong token" cgi-badauth-token-one "$sqlite_c" limit-hello "CGI hello"
  bar "nochg, password (Argon2id)" cgi-nochg-password-many "$sqlite_c" limit-hello "CGI hello"
  bar "nochg, token, PostgreSQL" postgres-cgi-nochg-token-many "$pg_c" limit-hello "CGI hello"
} >"$tmp/cgi"
draw_bars "$out/bench-cgi.svg" "CGI (nginx + fcgiwrap, one process a request), against the smallest CGI program" \
  "requests per second through nginx and fcgiwrap" "$tmp/cgi"

# SQLite against PostgreSQL and MariaDB, many hostnames: each flow's PostgreSQL and MariaDB
# bars under its SQLite bar.
{
  for f in fastcgi-nochg-token fastcgi-nochg-password fastcgi-good-token fastcgi-good-password \
    cgi-nochg-token cgi-nochg-password cgi-good-token cgi-good-password; do
    [ -n "$(value "postgres-$f-many")$(value "mariadb-$f-many")" ] || continue
    name="$(sed 's/^fastcgi/FastCGI/; s/^cgi/CGI/; s/-/, /g' <<<"$f")"
    bar "$name, SQLite" "$f-many" "$sqlite_c"
    bar "$name, PostgreSQL" "postgres-$f-many" "$pg_c" "$f-many" SQLite
    bar "$name, MariaDB" "mariadb-$f-many" "$mdb_c" "$f-many" SQLite
    gap
  done
} | sed '${/^-$/d}' >"$tmp/stores"
# The title names the shared stores the file has rows of.
shared=""
grep -q $'\tpostgres-[a-z-]*-many\t' "$data" && shared="PostgreSQL"
grep -q $'\tmariadb-[a-z-]*-many\t' "$data" && shared="${shared:+$shared and }MariaDB"
draw_bars "$out/bench-stores.svg" "SQLite against ${shared:-PostgreSQL}, each client its own hostname (logarithmic scale)" \
  "requests per second (log scale)" "$tmp/stores" log

# The DNS servers' own rate: updates per second by hosts per message, 1 and N clients.
awk -F'\t' -v n="$run_conns" '
  $1 == "limit" && $2 ~ /^limit-knot-c[0-9]+-h[0-9]+-tcp$/ {
    split($2, p, "-"); c = substr(p[3], 2); h = substr(p[4], 2)
    if (c == 1) one[h] = $3; else if (c == n) many[h] = $3
  }
  END { for (h in one) if (h in many) print h, one[h], many[h] }' "$data" | sort -n >"$tmp/dns.dat"
bind_one="$(value limit-bind-c1-h1-udp)" bind_many="$(value "limit-bind-c${run_conns}-h1-udp")"
if [ -s "$tmp/dns.dat" ]; then
  bind_plot=""
  if [ -n "$bind_one" ] && [ -n "$bind_many" ]; then
    printf '1 %s\n' "$bind_many" >"$tmp/bind-many.dat"
    printf '1 %s\n' "$bind_one" >"$tmp/bind-one.dat"
    bind_plot=", \"$tmp/bind-many.dat\" using 1:2 with points pt 9 ps 1.6 lc rgb \"#2ca02c\" title \"BIND, $run_conns clients (UDP)\""
    bind_plot+=", \"$tmp/bind-one.dat\" using 1:2 with points pt 8 ps 1.6 lc rgb \"#2ca02c\" title \"BIND, 1 client (UDP)\""
    bind_plot+=", \"$tmp/bind-many.dat\" using 1:2:(sprintf(\"%.0f\", \$2)) with labels left offset char 1.2, 0.4 tc rgb \"#2ca02c\" notitle"
    bind_plot+=", \"$tmp/bind-one.dat\" using 1:2:(sprintf(\"%.0f\", \$2)) with labels left offset char 1.2, -0.4 tc rgb \"#2ca02c\" notitle"
  fi
  gnuplot <<GNUPLOT
set terminal svg size 960,560 fixed noenhanced font "DejaVu Sans,13" background rgb "white"
set output "$out/bench-dns.svg"
set label 1 "The DNS servers alone: signed RFC 2136 updates, by hosts per message" at screen 0.5, screen 1 center offset 0, -1.3 font ",15"
set label 2 "$subtitle_dns" at screen 0.5, screen 1 center offset 0, -2.7 font ",12" tc rgb "#444444"
set tmargin 5
set xlabel "hosts per UPDATE message"
set ylabel "host updates per second (log scale)"
set logscale xy 10
set xrange [0.8:100]
set xtics ("1" 1, "8" 8, "32" 32, "64" 64) nomirror
set ytics nomirror
set format y "%.0f"
set grid lc rgb "#dddddd"
set border 3 lc rgb "#888888"
set key top left box opaque
set tics textcolor rgb "#222222"
plot "$tmp/dns.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "Knot, $run_conns clients (TCP)", \
     "" using 1:2 with linespoints lw 2 pt 5 lc rgb "#7fb2dc" title "Knot, 1 client (TCP)", \
     "" using 1:3:(sprintf("%.0f", \$3)) with labels offset char 0, 1 notitle, \
     "" using 1:2:(sprintf("%.0f", \$2)) with labels offset char 0, -1 notitle$bind_plot
GNUPLOT
  echo "    $out/bench-dns.svg"
else
  echo "    (not drawn: no rows for bench-dns.svg)"
fi

# The storm: updates per second by connections, each store and server a line, beside each
# server's own rate of one-host updates from as many clients (its limit row).
awk -F'\t' '$1 == "storm" && $2 ~ /^storm-[a-z]+-[a-z]+-c[0-9]+$/ {
    n = split($2, p, "-"); print p[2] "-" p[3], substr(p[4], 2), $3
  }' "$data" | sort -k1,1 -k2,2n >"$tmp/storm.dat"
if [ -s "$tmp/storm.dat" ]; then
  plots=() cmin="" cmax=""
  # One line per target, in a fixed order; colours: Knot blue, BIND green; PostgreSQL dashed
  # with open circles, MariaDB dotted with triangles (a run at one number of connections has
  # points only).
  while read -r target title colour dash pt; do
    awk -v t="$target" '$1 == t { print $2, $3 }' "$tmp/storm.dat" >"$tmp/storm-$target.dat"
    [ -s "$tmp/storm-$target.dat" ] || continue
    title="${title//_/ }"
    plots+=("\"$tmp/storm-$target.dat\" using 1:2 with linespoints lw 2 pt $pt ps 1.3 dt $dash lc rgb \"$colour\" title \"$title\"")
    plots+=("\"$tmp/storm-$target.dat\" using 1:2:(sprintf(\"%.0f\", \$2)) with labels left offset char 1, 0 tc rgb \"$colour\" notitle")
  done <<'TARGETS'
sqlite-knot ddns-cgi,_SQLite,_Knot #1f77b4 1 7
postgres-knot ddns-cgi,_PostgreSQL,_Knot #1f77b4 2 6
mariadb-knot ddns-cgi,_MariaDB,_Knot #1f77b4 3 8
sqlite-bind ddns-cgi,_SQLite,_BIND #2ca02c 1 7
postgres-bind ddns-cgi,_PostgreSQL,_BIND #2ca02c 2 6
mariadb-bind ddns-cgi,_MariaDB,_BIND #2ca02c 3 8
TARGETS
  # The servers alone, at the storm's numbers of connections.
  for server in knot bind; do
    awk -F'\t' -v s="$server" 'NR == FNR { split($0, f, " "); want[f[2]] = 1; next }
      $1 == "limit" && $2 ~ ("^limit-" s "-c[0-9]+-h1-udp$") {
        split($2, p, "-"); c = substr(p[3], 2); if (c in want) print c, $3
      }' "$tmp/storm.dat" "$data" | sort -n >"$tmp/storm-limit-$server.dat"
    [ -s "$tmp/storm-limit-$server.dat" ] || continue
    name=Knot colour="#7f7f7f"
    [ "$server" = bind ] && name=BIND colour="#b8b8b8"
    plots+=("\"$tmp/storm-limit-$server.dat\" using 1:2 with linespoints lw 2 pt 5 lc rgb \"$colour\" title \"$name alone, one host a message\"")
    plots+=("\"$tmp/storm-limit-$server.dat\" using 1:2:(sprintf(\"%.0f\", \$2)) with labels left offset char 1, 0 tc rgb \"$colour\" notitle")
  done
  read -r cmin cmax < <(awk '{ if (min == "" || $2 < min) min = $2; if ($2 > max) max = $2 } END { print min, max }' "$tmp/storm.dat")
  xtics=$(awk '{ print $2 }' "$tmp/storm.dat" | sort -un | awk '{ printf "%s\"%s\" %s", (NR > 1 ? ", " : ""), $1, $1 }')
  storm_hosts="$(meta storm_hosts)" storm_rounds="$(meta storm_rounds)"
  subtitle_storm="${run_version:+$run_version at }${run_commit:-?}, ${run_date:-?}: ${run_mode:-full} mode, ${run_profile:-release} build"
  plot_line=$(printf '%s, ' "${plots[@]}")
  gnuplot <<GNUPLOT
set terminal svg size 960,640 fixed noenhanced font "DejaVu Sans,13" background rgb "white"
set output "$out/bench-storm.svg"
set label 1 "The storm: ${storm_hosts:-?} hosts, each its own token, ${storm_rounds:-?} new addresses each" at screen 0.5, screen 1 center offset 0, -1.3 font ",15"
set label 2 "$subtitle_storm" at screen 0.5, screen 1 center offset 0, -2.7 font ",12" tc rgb "#444444"
set tmargin 5
set xlabel "keep-alive connections (the server alone: as many clients)"
set ylabel "host updates per second (log scale)"
set logscale xy
set xrange [$cmin / 1.6:$cmax * 2.5]
set xtics ($xtics) nomirror
set ytics nomirror
set format y "%.0f"
set grid lc rgb "#dddddd"
set border 3 lc rgb "#888888"
set key outside bottom center horizontal maxrows 2 width 2 font ",12"
set bmargin 8
set tics textcolor rgb "#222222"
plot ${plot_line%, }
GNUPLOT
  echo "    $out/bench-storm.svg"
else
  echo "    (not drawn: no rows for bench-storm.svg)"
fi
