#!/bin/sh
# PowerDNS Authoritative: create the dynamic zone dyn.example.com in the database of
# ddns-cgi.conf and let ddns-cgi update it, signed with the TSIG key ddns-key, from the
# address it sends from. Run as root (or pdns) once ddns-cgi.conf is in place. The test suite
# runs this very file (tests/integration/util/dnsserver/), with its own zone name, key and
# paths.
#
# Replace dyn.example.com everywhere (and in the zone file's name) with your zone, and
# 127.0.0.1/32 ::1/128 with the addresses ddns-cgi's web server sends from.
set -e

# 1. The key, the same as in ddns-cgi's config (`tsig_key = "hmac-sha256:ddns-key:SECRET"`).
#    The secret shows in the process list while this runs: run it where nobody else logs in,
#    or instead let PowerDNS make the key, `pdnsutil generate-tsig-key ddns-key hmac-sha256`,
#    and copy the secret it prints into ddns-cgi's config.
pdnsutil import-tsig-key ddns-key hmac-sha256 REPLACE-WITH-BASE64-SECRET

# Keep the zone's commands last: the test suite repeats them for each zone it serves.
# 2. The zone as it starts (SOA and NS), from the zone file beside this script.
pdnsutil load-zone dyn.example.com /etc/powerdns/dyn.example.com.zone
# 3. Who may update it: the key (a signed UPDATE with another key, or none, is REFUSED), and
#    only from these addresses (both must match, as pdns.conf's allow-dnsupdate-from is empty).
pdnsutil set-meta dyn.example.com TSIG-ALLOW-DNSUPDATE ddns-key
pdnsutil set-meta dyn.example.com ALLOW-DNSUPDATE-FROM 127.0.0.1/32 ::1/128
# 4. Each accepted UPDATE adds one to the SOA serial, as Knot and BIND do (RFC 2136 §3.7).
#    PowerDNS's DEFAULT jumps to today's YYYYMMDD01 instead, which works as well.
pdnsutil set-meta dyn.example.com SOA-EDIT-DNSUPDATE INCREASE
# 5. DNSSEC: to sign the zone, uncomment these two lines. PowerDNS makes the keys (ECDSA
#    P-256, NSEC) and signs each answer as it sends it (live signing), so every update comes
#    out signed; ddns-cgi needs no change. Give the parent the DS record that
#    `pdnsutil show-zone dyn.example.com` prints, then `ddns-cgi check` says whether
#    validators see the zone as secure.
# pdnsutil secure-zone dyn.example.com
# pdnsutil rectify-zone dyn.example.com
