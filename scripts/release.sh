#!/usr/bin/env bash
# Prepares a release of the version in Cargo.toml: checks CHANGELOG.md (the Keep a Changelog
# form: `# Changelog`, `## [Unreleased]` first, then `## [X.Y.Z] - YYYY-MM-DD` sections, newest
# first, each with `### Added|Changed|Deprecated|Removed|Fixed|Security` lists), that the
# version has a dated section with at least one item, and that scripts/debian-changelog.sh
# makes the package's changelog from it with that version; then builds the Debian package
# (scripts/package.sh) and prints its path and SHA-256. Refuses, naming what to fix and
# building nothing, when a check fails. Tags, uploads and pushes nothing.
# Usage: scripts/release.sh [--check] [--output DIR] [CHANGELOG.md [Cargo.toml]]
#   --check         the checks only, no package
#   --output DIR    where the .deb goes (scripts/package.sh's default: target/debian)
set -euo pipefail
check_only=0 output=""
files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check_only=1 ;;
    --output)
      [ $# -ge 2 ] || { echo "error: \`--output\` needs a directory" >&2; exit 2; }
      output="$2"
      shift
      ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "error: unknown option \`$1\` (see --help)" >&2; exit 2 ;;
    *) files+=("$1") ;;
  esac
  shift
done
# Paths given are the caller's; the scripts run from the tree's root.
for i in "${!files[@]}"; do files[i]="$(realpath -m -- "${files[i]}")"; done
[ -n "$output" ] && output="$(realpath -m -- "$output")"
cd "$(dirname "$0")/.."
[ "${#files[@]}" -le 2 ] || { echo "error: too many arguments (see --help)" >&2; exit 2; }
changelog="${files[0]:-CHANGELOG.md}"
manifest="${files[1]:-Cargo.toml}"
if [ "$check_only" = 0 ] && [ "${#files[@]}" -gt 0 ]; then
  # The package is built from this tree's own CHANGELOG.md and Cargo.toml.
  echo "error: other files than the tree's own are only checked: add \`--check\`" >&2
  exit 2
fi
refuse() { echo "error: $*; nothing was built" >&2; exit 2; }
[ -r "$changelog" ] || refuse "cannot read \`$changelog\`"
[ -r "$manifest" ] || refuse "cannot read \`$manifest\`"

version="$(awk '/^\[/ { inside = ($0 == "[package]"); next }
  inside && $1 == "version" && $2 == "=" { gsub(/"/, "", $3); print $3; exit }' "$manifest")"
[ -n "$version" ] || refuse "\`$manifest\` has no [package] version"

# The form, line by line: the title, [Unreleased] first, release headings, kinds of change.
problems="$(awk -v file="$changelog" '
  function problem(text) { printf "%s:%d: %s\n", file, NR, text; bad = 1 }
  NR == 1 && $0 != "# Changelog" { problem("the first line must be `# Changelog`") }
  /keepachangelog\.com/ { cited = 1 }
  /^## / {
    n_sections++
    if ($0 == "## [Unreleased]") {
      if (n_sections != 1) problem("`## [Unreleased]` must be the first section")
      in_release = 0; next
    }
    if (n_sections == 1) problem("the first section must be `## [Unreleased]`")
    if ($0 !~ /^## \[[0-9]+\.[0-9]+\.[0-9]+\] - [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/) {
      problem("a release heading is `## [X.Y.Z] - YYYY-MM-DD`, not `" $0 "`")
    }
    in_release = 1; next
  }
  /^### / {
    if ($0 !~ /^### (Added|Changed|Deprecated|Removed|Fixed|Security)$/) {
      problem("a kind of change is one of Added, Changed, Deprecated, Removed, Fixed, Security, not `" substr($0, 5) "`")
    }
    next
  }
  /^#/ && !/^# Changelog$/ { problem("unexpected heading `" $0 "`") }
  END {
    if (!cited) problem("it does not say it follows Keep a Changelog (https://keepachangelog.com/)")
    if (n_sections == 0) problem("it has no `## [Unreleased]` section")
  }' "$changelog")" || true
[ -z "$problems" ] || refuse "$(printf '`%s` is not in the Keep a Changelog form:\n%s' "$changelog" "$problems")"

# The version's own section: dated, and not empty.
heading="$(grep -E "^## \[${version//./\\.}\]" "$changelog" | head -1 || true)"
if [ -z "$heading" ]; then
  refuse "\`$changelog\` has no entry for \`$version\` (the version in \`$manifest\`): add \`## [$version] - $(date -u +%Y-%m-%d)\` below \`## [Unreleased]\`, with the release's changes moved into it"
fi
date="${heading##* - }"
[ "$date" != "$heading" ] && [[ $date =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] ||
  refuse "the entry of \`$version\` in \`$changelog\` has no date: \`$heading\` (expected \`## [$version] - YYYY-MM-DD\`)"
date -u -d "$date" >/dev/null 2>&1 || refuse "the entry of \`$version\` is dated \`$date\`, which is not a date"
n_items="$(awk -v h="$heading" '$0 == h { on = 1; next } on && /^## / { exit } on && /^- / { n++ } END { print n + 0 }' "$changelog")"
[ "$n_items" -gt 0 ] || refuse "the entry of \`$version\` in \`$changelog\` lists no change"
# Versions newest first: sort -V of the headings must be their reverse order.
versions="$(sed -n 's/^## \[\([0-9][^]]*\)\].*/\1/p' "$changelog")"
[ "$versions" = "$(sort -V -r <<<"$versions")" ] ||
  refuse "the releases of \`$changelog\` are not newest first: $(tr '\n' ' ' <<<"$versions")"
[ "$(head -1 <<<"$versions")" = "$version" ] ||
  refuse "the newest release of \`$changelog\` is \`$(head -1 <<<"$versions")\`, not \`$version\` (the version in \`$manifest\`)"

# The Debian changelog the package ships, made from the same file, must name this version.
debian="$(scripts/debian-changelog.sh "$changelog" "$manifest")" || refuse "scripts/debian-changelog.sh refused \`$changelog\` (above)"
first="$(head -1 <<<"$debian")"
[[ $first == *" ($version-"* ]] || refuse "scripts/debian-changelog.sh's newest entry is \`$first\`, not version \`$version\`"

echo "==> $changelog: $version of $date, $n_items changes; the Debian changelog agrees" >&2
[ "$check_only" = 1 ] && exit 0

deb="$(scripts/package.sh ${output:+"$output"} | tail -1)"
[ -f "$deb" ] || { echo "error: scripts/package.sh printed \`$deb\`, which is not a file" >&2; exit 2; }
sum="$(sha256sum "$deb" | cut -d' ' -f1)"
echo "==> ddns-cgi $version: $deb" >&2
# The checksum line as sha256sum writes it, so `sha256sum -c` reads it back.
echo "$sum  $deb"
