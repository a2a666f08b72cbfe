#!/bin/sh
# PowerDNS Authoritative as the hidden primary of dyn.example.com: the only server ddns-cgi
# updates, with two public secondaries (ns1 198.51.100.53, ns2 203.0.113.53) that it tells of
# each change by NOTIFY (RFC 1996) and that fetch the zone from it. PowerDNS sends whole
# zones (AXFR) where Knot and BIND send the difference (IXFR): fine for a zone of dynamic
# hosts. The secondaries are set up from contrib/knot/secondary.conf or
# contrib/bind/secondary.conf. The test suite runs this very file
# (tests/integration/util/dnsserver/), with its own zone name, addresses, keys and paths.
#
# 1. Set up the zone as in ddns-cgi.conf and ddns-cgi-zone.sh, and add `primary=yes` to
#    /etc/powerdns/pdns.d/ddns-cgi.conf (PowerDNS sends no NOTIFY without it); restart.
# 2. Make a transfer key (`pdnsutil generate-tsig-key xfr-key hmac-sha256` prints one), and
#    put the same secret into each secondary's config. It is not ddns-key: a secondary must
#    not be able to update the zone, and ddns-cgi must not be able to transfer it.
# 3. Hidden: the zone's NS records (and the parent's delegation) name only the secondaries.
# 4. Run this as root; replace dyn.example.com and the addresses with yours.
set -e

pdnsutil import-tsig-key xfr-key hmac-sha256 REPLACE-WITH-BASE64-XFR-SECRET
# A primary zone: PowerDNS notifies its secondaries (a native zone relies on the database's
# own replication instead).
pdnsutil set-kind dyn.example.com primary
# Only the secondaries, with the transfer key, may fetch the zone; NOTIFYs are signed with
# the same key (PowerDNS's `send-signed-notify`, on by default).
pdnsutil set-meta dyn.example.com TSIG-ALLOW-AXFR xfr-key
pdnsutil set-meta dyn.example.com ALLOW-AXFR-FROM 198.51.100.53/32 203.0.113.53/32
pdnsutil set-meta dyn.example.com ALSO-NOTIFY 198.51.100.53:53 203.0.113.53:53
# A NOTIFY after every accepted UPDATE, not only at the next check of the zone's serial.
pdnsutil set-meta dyn.example.com NOTIFY-DNSUPDATE 1
