#!/usr/bin/env bash
# The documents on PostgreSQL against LMDB (issue 14, item 6): the Table 2
# rows of one agent -- case C (a trivial add-on function), case A (a read
# by id with a session and an ACL), case B (an add-on function doing that
# read, declared: read1d; MIST_B_FN=read1 for the host API) -- with
# `--docs lmdb` and then with `--docs
# postgres` on a private PostgreSQL cluster this script starts in a
# temporary folder (contrib/pgtest.sh: a socket in that folder, no TCP)
# and stops at the end.  Each half is contrib/bench/hostapi.sh (http.sh
# with mist only); MIST_AGENT_ARGS carries the PostgreSQL options.
#
#   contrib/bench/pg.sh [SECONDS]     seconds per row (default 5)
#
# Environment: hostapi.sh's and http.sh's (BUILD, MIST_BIN, RUNS, ...).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-5}
dir=$(mktemp -d "${TMPDIR:-/tmp}/mist-benchpg.XXXXXX")
trap '"$root/contrib/pgtest.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$root/contrib/pgtest.sh" start "$dir" >/dev/null
url="postgresql://postgres@/postgres?host=$dir/pg"
echo "## documents on LMDB"
"$root/contrib/bench/hostapi.sh" "$secs"
echo "## documents on PostgreSQL ($url)"
MIST_AGENT_ARGS="--docs postgres --docs-url $url" "$root/contrib/bench/hostapi.sh" "$secs"
