#!/usr/bin/env bash
# Installs the npm packages that PKGDIR's package.json and package-lock.json
# pin, exactly (npm ci), into DEST -- never into PKGDIR, which may be a
# read-only source tree (make distcheck).
#
#   contrib/npm-ci.sh PKGDIR DEST
#
# DEST gets a copy of the two files and node_modules/.  A DEST whose stamp
# (DEST/.lock.sha256) matches PKGDIR's package-lock.json is already
# installed: nothing is done, no network needed.  npm runs with
# --prefer-offline, so a filled npm cache is enough on a machine without
# the registry.  Prints DEST on success.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 PKGDIR DEST" >&2; exit 2; }
pkg=$(cd "$1" && pwd)
dest=$2
for f in package.json package-lock.json; do
	[ -f "$pkg/$f" ] || { echo "$0: $pkg/$f is missing" >&2; exit 1; }
done
command -v npm >/dev/null || { echo "$0: npm not found (contrib/deps.sh installs it)" >&2; exit 1; }
want=$(sha256sum "$pkg/package-lock.json" | cut -d' ' -f1)
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
case "$dest/" in "$pkg/"*) echo "$0: refusing to install inside the package folder $pkg" >&2; exit 1 ;; esac
if [ -d "$dest/node_modules" ] && [ "$(cat "$dest/.lock.sha256" 2>/dev/null)" = "$want" ]; then
	echo "$dest"
	exit 0
fi
rm -f "$dest/.lock.sha256"
cp "$pkg/package.json" "$pkg/package-lock.json" "$dest/"
# --ignore-scripts: none of the pinned packages needs an install script to
# run (they are postinstall banners and optional telemetry), and a
# benchmark's dependencies should not run code at install time.
(cd "$dest" && npm ci --prefer-offline --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
echo "$want" > "$dest/.lock.sha256"
echo "$dest"
