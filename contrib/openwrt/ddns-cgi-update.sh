#!/bin/sh
# Updates one or more hostnames at a ddns-cgi server, from an OpenWrt router (or any POSIX
# system with curl, or with OpenWrt's uclient-fetch). Prints the server's answer; exits 0 for
# `good`/`nochg` on every line, 1 otherwise (and logs to syslog when `logger` exists).
#
# Settings come from the environment or from /etc/ddns-cgi-update.conf (sh syntax, chmod 600):
#   DDNS_URL=https://ddns.example.com/nic/update
#   DDNS_USER=alice
#   DDNS_PASSWORD='secret'
#   DDNS_HOSTNAME=home.dyn.example.com          # several: comma-separated
# Usage: ddns-cgi-update.sh [IPV4] [IPV6]
#   Without addresses the server uses the address the request comes from.
#
# From cron (OpenWrt: /etc/crontabs/root, then `/etc/init.d/cron restart`), every 5 minutes:
#   */5 * * * * /usr/bin/ddns-cgi-update.sh "$(ip -4 -o addr show dev wan | awk '{print $4}' | cut -d/ -f1)" >/dev/null 2>&1
set -u

conf="${DDNS_CONF:-/etc/ddns-cgi-update.conf}"
# shellcheck disable=SC1090
[ -r "$conf" ] && . "$conf"
: "${DDNS_URL:?set DDNS_URL, e.g. https://ddns.example.com/nic/update}"
: "${DDNS_USER:?set DDNS_USER}"
: "${DDNS_PASSWORD:?set DDNS_PASSWORD}"
: "${DDNS_HOSTNAME:?set DDNS_HOSTNAME}"

# Hostnames and addresses need no URL encoding; dyndns2 takes both families in one `myip`.
myip=""
[ -n "${1:-}" ] && myip="$1"
[ -n "${2:-}" ] && myip="${myip:+$myip,}$2"
url="$DDNS_URL?hostname=$DDNS_HOSTNAME"
[ -n "$myip" ] && url="$url&myip=$myip"

if command -v curl >/dev/null 2>&1; then
    # The credentials go through curl's config on stdin, not argv, so `ps` does not show them.
    esc() { printf '%s' "$1" | sed 's/[\\"]/\\&/g'; }
    answer="$(printf 'user = "%s:%s"\n' "$(esc "$DDNS_USER")" "$(esc "$DDNS_PASSWORD")" |
        curl -sS --max-time 30 -K - "$url")" || answer="curl failed"
elif command -v uclient-fetch >/dev/null 2>&1; then
    # uclient-fetch sends credentials only after the server's 401 challenge, which ddns-cgi
    # gives. It has no way to keep the password out of argv.
    answer="$(uclient-fetch -q -T 30 -O - --user="$DDNS_USER" --password="$DDNS_PASSWORD" "$url" 2>&1)" ||
        answer="${answer:-uclient-fetch failed}"
else
    echo "ddns-cgi-update: neither curl nor uclient-fetch found" >&2
    exit 1
fi

printf '%s\n' "$answer"
status=0
[ -n "$answer" ] || status=1
# One answer line per hostname; anything but good/nochg is a failure (badauth, nohost, 911...).
printf '%s\n' "$answer" | while IFS= read -r line; do
    case "$line" in
        good*|nochg*) ;;
        *) exit 1 ;;
    esac
done || status=1
if [ "$status" -ne 0 ] && command -v logger >/dev/null 2>&1; then
    logger -t ddns-cgi-update "update of $DDNS_HOSTNAME failed: $answer"
fi
exit "$status"
