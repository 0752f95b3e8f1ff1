#!/usr/bin/env bash
# Installs Parse Server (npm parse-server, pinned with every dependency by
# package.json and package-lock.json beside this script) for the
# benchmarks and for proving tests/sdk/scenario.js against the real thing.
#
#   contrib/bench/parse-server/install.sh [DEST]
#
# DEST: the argument, else $MIST_BENCH_CACHE/parse-server, else
# ~/.cache/mist-bench/parse-server.  Never writes into the source tree;
# skips the install when DEST already matches the lock.  Prints DEST.
#
# Pins: parse-server 9.10.0 with express 5 would pull router 2.3.0, which
# breaks /batch and Cloud Code queries (HTTP 500, TypeError in
# PromiseRouter.match): router stays at 2.2.0, as a direct dependency and
# in "overrides".
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$src/../../.." && pwd)
dest=${1:-${MIST_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mist-bench}/parse-server}
exec "$root/contrib/npm-ci.sh" "$src" "$dest"
