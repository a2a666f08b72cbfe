#!/usr/bin/env bash
# Writes the Debian changelog (debian/changelog format, one dch-style entry per released
# version, newest first) of the package from CHANGELOG.md (Keep a Changelog) to stdout;
# scripts/package.sh gzips it into usr/share/doc/ddns-cgi/changelog.Debian.gz. Each item
# becomes `  * Kind: text` (Kind the `###` heading), wrapped at 80 columns; the date of a
# `## [X.Y.Z] - YYYY-MM-DD` heading is the entry's date. The package's version, revision
# (cargo-deb's default, 1) and maintainer come from Cargo.toml, and the newest released
# version must be the package's, so a version bump without its changelog section fails the
# build. `[Unreleased]` names no version and is left out.
# Usage: scripts/debian-changelog.sh [CHANGELOG.md [Cargo.toml]]
set -euo pipefail
cd "$(dirname "$0")/.."
changelog="${1:-CHANGELOG.md}"
manifest="${2:-Cargo.toml}"

# `key = "value"` of one Cargo.toml section.
toml_value() {
  awk -v section="[$1]" -v key="$2" '
    /^\[/ { inside = ($0 == section); next }
    inside && $1 == key && $2 == "=" {
      sub(/^[^=]*=[ \t]*"/, ""); sub(/"[ \t]*(#.*)?$/, ""); print; exit
    }' "$3"
}
name="$(toml_value package name "$manifest")"
version="$(toml_value package version "$manifest")"
revision="$(toml_value package.metadata.deb revision "$manifest")"
maintainer="$(toml_value package.metadata.deb maintainer "$manifest")"
if [ -z "$name" ] || [ -z "$version" ] || [ -z "$maintainer" ]; then
  echo "error: \`$manifest\` has no package name, version or [package.metadata.deb] maintainer" >&2
  exit 2
fi

released="$(sed -n 's/^## \[\([0-9][^]]*\)\].*/\1/p' "$changelog" | head -1)"
if [ "$released" != "$version" ]; then
  echo "error: the newest released section of \`$changelog\` is \`${released:-none}\`, expected \`$version\` (Cargo.toml's version)" >&2
  exit 2
fi

# One entry per `## [X.Y.Z] - YYYY-MM-DD`; a release date `date` cannot read stops here.
awk -v name="$name" -v revision="${revision:-1}" -v maintainer="$maintainer" '
  function flush_item(   words, n, i, line) {
    if (item == "") return
    n = split(kind item, words, /[ \t]+/)
    line = "  *"
    for (i = 1; i <= n; i++) {
      if (words[i] == "") continue
      if (length(line) + 1 + length(words[i]) > 80 && line !~ /^ +\*?$/) {
        print line
        line = "   "
      }
      line = line " " words[i]
    }
    print line
    item = ""
  }
  function close_entry() {
    flush_item()
    if (!open) return
    if (!n_items) print "  * No changes listed."
    cmd = "date -u -R -d " date
    if ((cmd | getline stamp) <= 0) { print "error: bad release date `" date "`" > "/dev/stderr"; failed = 1; exit 2 }
    close(cmd)
    print ""
    print " -- " maintainer "  " stamp
    open = 0
  }
  /^## \[/ {
    close_entry()
    if ($0 !~ /^## \[[0-9]/) { skipping = 1; next }
    skipping = 0
    version = $2; gsub(/[][]/, "", version)
    date = $4
    if (date !~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/) {
      print "error: the section of `" version "` has no date (`## [" version "] - YYYY-MM-DD`)" > "/dev/stderr"
      failed = 1; exit 2
    }
    # Newest first, each release later than the one below it: dpkg and lintian
    # (latest-changelog-entry-without-new-date) read the order from the dates.
    if (newer_date != "" && date >= newer_date) {
      print "error: `" version "` is dated " date ", not before the newer release dated " newer_date > "/dev/stderr"
      failed = 1; exit 2
    }
    newer_date = date
    if (entries++) print ""
    print name " (" version "-" revision ") unstable; urgency=medium"
    print ""
    open = 1; n_items = 0; kind = ""
    next
  }
  skipping || !open { next }
  /^### / { flush_item(); kind = substr($0, 5) ":"; next }
  /^- / { flush_item(); item = " " substr($0, 3); n_items++; next }
  /^  +[^ ]/ && item != "" { item = item " " $0; next }
  /^[^ ]/ { flush_item() }
  END { if (failed) exit 2; close_entry() }
' "$changelog"
