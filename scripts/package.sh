#!/usr/bin/env bash
# Builds the Debian package: the release binary, then the man pages and shell completions it
# writes about itself and the Debian changelog (scripts/debian-changelog.sh, from
# CHANGELOG.md), then `cargo deb` (metadata in Cargo.toml, maintainer scripts in debian/).
# Installs cargo-deb first when it is missing. Prints the path of the .deb as its
# last line. The release build is the one the benchmark scripts use, so running this first
# makes them start at once.
# Usage: scripts/package.sh [OUTDIR]   (the .deb goes to OUTDIR, default target/debian)
set -euo pipefail
output="${1:-}"
if [ -n "$output" ]; then
  mkdir -p "$output"
  output="$(cd "$output" && pwd)"
fi
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

cargo_deb_version="3.8.0"
if ! cargo deb --version 2>/dev/null | grep -q "$cargo_deb_version"; then
  echo "==> installing cargo-deb $cargo_deb_version (a few minutes, once)" >&2
  cargo install --locked --quiet cargo-deb --version "$cargo_deb_version" >&2
fi

echo "==> building ddns-cgi (release)" >&2
cargo build --release --locked --quiet >&2

# cargo-deb maps `target/release/` in Cargo.toml to the real target directory.
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
assets="$target_dir/release/assets"
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
bin="$target_dir/release/ddns-cgi"
"$bin" manpage --out "$assets/man" >/dev/null
gzip -9n "$assets/man/ddns-cgi.8" "$assets/man/ddns-cgi.toml.5"
"$bin" completions bash >"$assets/completions/ddns-cgi"
"$bin" completions zsh >"$assets/completions/_ddns-cgi"
"$bin" completions fish >"$assets/completions/ddns-cgi.fish"
# The Debian changelog, generated from CHANGELOG.md (it also checks that the newest release
# there is this version).
scripts/debian-changelog.sh >"$assets/changelog.Debian"
gzip -9n "$assets/changelog.Debian"

echo "==> cargo deb" >&2
# --no-build: the binary above is the one packaged; cargo-deb strips nothing more (the
# release profile strips already).
cargo deb --no-build --quiet ${output:+--output "$output"} | tail -1
