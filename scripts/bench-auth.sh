#!/usr/bin/env bash
# Does the time of a failed login tell which user names exist? For each binary given (default:
# the release build), against a fresh database and without a DNS server (a failed login never
# reaches it), with rate limits off:
#   1. three users are created at the default Argon2id cost (19 MiB, t=2);
#   2. N wrong passwords for one of them, and N attempts with unknown user names, are timed;
#   3. `[auth]` is raised to 64 MiB, t=3 (none of the users has logged in since, so their
#      hashes keep the old cost) and step 2 is repeated.
# Prints the mean milliseconds per request of each case. Equal columns mean the time does not
# tell; before issue 12 the unknown user paid the new cost after the change.
# Usage: scripts/bench-auth.sh [N] [BINARY...]   (N requests per case, default 40)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-40}"
shift || true
bins=("$@")
if [ "${#bins[@]}" -eq 0 ]; then
  cargo build --release --locked --quiet
  bins=("$PWD/target/release/ddns-cgi")
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

config() { # FILE DB M_KIB T
  cat >"$1" <<CONF
[database]
path = "$2"
[dns]
server = "127.0.0.1:53"
tsig_key = "hmac-sha256:ddns-key.:$(head -c 32 /dev/urandom | base64)"
[[zones]]
name = "dyn.example.test"
[rate_limit]
enabled = false
[auth]
argon2_m_kib = $3
argon2_t = $4
argon2_p = 1
CONF
}

request() { # BINARY CONFIG USER: one failed login as USER
  env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SCRIPT_NAME=/nic/update \
    QUERY_STRING="hostname=h.dyn.example.test" REMOTE_ADDR=192.0.2.1 \
    HTTP_AUTHORIZATION="Basic $(printf '%s:wrong-password' "$3" | base64)" \
    DDNS_CGI_CONFIG="$2" "$1" 2>/dev/null | grep -q badauth
}

pair() { # BINARY CONFIG: "known_ms unknown_ms", the two cases interleaved so that load from
  # other processes falls on both alike
  local known=0 unknown=0 t0 t1 t2
  for ((i = 0; i < n; i++)); do
    t0=$(date +%s%N)
    request "$1" "$2" old1
    t1=$(date +%s%N)
    request "$1" "$2" "nobody$i"
    t2=$(date +%s%N)
    known=$((known + t1 - t0))
    unknown=$((unknown + t2 - t1))
  done
  awk -v k="$known" -v u="$unknown" -v n="$n" 'BEGIN { printf "%14.1f %14.1f", k / n / 1e6, u / n / 1e6 }'
}

echo "failed-login time: $n requests per case, $(nproc) cores, $(date -u +%Y-%m-%d)"
printf '%-28s %-34s %14s %14s\n' "binary" "stored hashes / [auth]" "known user ms" "unknown ms"
for bin in "${bins[@]}"; do
  db="$work/ddns-$RANDOM.db"
  config "$work/old.toml" "$db" 19456 2
  config "$work/new.toml" "$db" 65536 3
  "$bin" --config "$work/old.toml" init-db >/dev/null
  for u in old1 old2 old3; do
    echo "password-of-$u" | "$bin" --config "$work/old.toml" user add "$u" "$u@example.test" --password-stdin >/dev/null
  done
  label="$(basename "$(dirname "$bin")")/$(basename "$bin")"
  printf '%-28s %-34s %s\n' "$label" "19 MiB,t=2 / 19 MiB,t=2" "$(pair "$bin" "$work/old.toml")"
  printf '%-28s %-34s %s\n' "$label" "19 MiB,t=2 / 64 MiB,t=3 (raised)" "$(pair "$bin" "$work/new.toml")"
  rm -f "$db"*
done
