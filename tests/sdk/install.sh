#!/usr/bin/env bash
# Installs the official Parse JS SDK, at the version tests/sdk/package.json
# pins (package-lock.json fixes every dependency), for scenario.js.
#
#   tests/sdk/install.sh [DEST]
#
# DEST: the argument, else $MIST_SDK_DIR, else ./sdk under the current
# folder when that is a build tree (not the source tree), else
# ~/.cache/mist/sdk.  Never writes into the source tree.  Skips the install
# when DEST already matches the lock (offline-friendly).  Prints DEST; run
# the scenario with NODE_PATH=DEST/node_modules (tests/sdk/run.sh does).
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$src/../.." && pwd)
dest=${1:-${MIST_SDK_DIR:-}}
if [ -z "$dest" ]; then
	here=$(pwd)
	case "$here/" in
	"$root/"*) dest=${XDG_CACHE_HOME:-$HOME/.cache}/mist/sdk ;;
	*) dest=$here/sdk ;;
	esac
fi
exec "$root/contrib/npm-ci.sh" "$src" "$dest"
