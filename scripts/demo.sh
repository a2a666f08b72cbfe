#!/usr/bin/env bash
# The main job end to end on loopback: a throwaway Knot on a random port, a fresh database
# with a user and a hostname, nginx + fcgiwrap on another random port (configured from the
# shipped nginx/ddns-cgi-fcgiwrap.conf, running as www-data when started as root), one
# dyndns2 update sent with curl, and the DNS answer. Everything lives in a temporary
# directory that is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"

echo "==> building ddns-cgi (release)"
cargo build --release --locked --quiet
bin="$PWD/target/release/ddns-cgi"

work="$(mktemp -d)"
knot_pid=""
nginx_pid=""
fcgiwrap_pid=""
cleanup() {
  for pid in $nginx_pid $fcgiwrap_pid $knot_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

zone="dyn.example.test"
secret="$(head -c 32 /dev/urandom | base64)"
source scripts/lib.sh
start_knot "$work/knot" "$zone" "$secret"
port="$KNOT_PORT"
knot_pid="$KNOT_PID"
echo "==> Knot serves $zone on 127.0.0.1:$port"
write_config "$work/config.toml" "$work/ddns.db" "$port" "$zone" "$secret"

run() { echo "\$ ddns-cgi $*"; "$bin" --config "$work/config.toml" "$@"; }
# As root, the database is created for the web server's user, as the book's set-up does.
if [ "$(id -u)" -eq 0 ]; then run init-db --owner www-data; else run init-db; fi
echo "demo-password" | run user add demo demo@example.test --password-stdin
run hostname add demo "home.$zone" "$zone"

# The web server runs the binary as www-data (when we are root): it gets its own copy of the
# binary, and the config and database become its files.
web_user=""
as_web=()
if [ "$(id -u)" -eq 0 ]; then
  web_user="www-data"
  # setpriv execs the server, so $! is the server's pid and `kill` reaches it.
  as_web=(setpriv --reuid="$web_user" --regid="$web_user" --clear-groups --)
fi
install -m 0755 "$bin" "$work/ddns-cgi"
mkdir -p "$work/nginx/tmp"
cp /etc/nginx/fastcgi_params "$work/nginx/"
sed -e "s|/usr/lib/cgi-bin/ddns-cgi|$work/ddns-cgi|" \
    -e "s|/etc/ddns-cgi/config.toml|$work/config.toml|" \
    -e "s|/run/fcgiwrap.socket|$work/nginx/fcgiwrap.sock|" \
    nginx/ddns-cgi-fcgiwrap.conf >"$work/nginx/ddns-cgi-fcgiwrap.conf"
# Not the Knot directory: that stays Knot's.
if [ -n "$web_user" ]; then
  chown -R "$web_user:$web_user" "$work/nginx" "$work/config.toml" "$work"/ddns.db*
  chown "$web_user:$web_user" "$work"
fi
chmod 755 "$work"

"${as_web[@]}" fcgiwrap -s "unix:$work/nginx/fcgiwrap.sock" >"$work/nginx/fcgiwrap.log" 2>&1 &
fcgiwrap_pid=$!
start_nginx() {
  web_port=$((20000 + RANDOM % 40000))
  cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx/tmp/body;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  proxy_temp_path $work/nginx/tmp/proxy;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$web_port;
    include $work/nginx/ddns-cgi-fcgiwrap.conf;
  }
}
CONF
  "${as_web[@]}" nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
  nginx_pid=$!
  await_ready "$nginx_pid" curl -s -o /dev/null "http://127.0.0.1:$web_port/" && return 0
  nginx_pid=""
  return 1
}
for _ in 1 2 3 4 5; do start_nginx && break; done
[ -n "$nginx_pid" ] || { echo "nginx did not start:"; cat "$work/nginx/"*.log; exit 1; }
echo "==> nginx + fcgiwrap serve /nic/update on 127.0.0.1:$web_port${web_user:+ as $web_user}"

query="hostname=home.$zone&myip=192.0.2.42,2001:db8::42"
url="http://127.0.0.1:$web_port/nic/update?$query"
echo
echo "==> curl -u demo:demo-password '$url'"
curl -sS -i -u demo:demo-password "$url"
echo
echo "==> the DNS answer"
kdig @127.0.0.1 -p "$port" "home.$zone" A +noall +answer
kdig @127.0.0.1 -p "$port" "home.$zone" AAAA +noall +answer
