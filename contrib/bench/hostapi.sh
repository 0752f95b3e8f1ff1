#!/usr/bin/env bash
# The host API's cost (issue 14): case B, an add-on function that reads one
# object with mist_doc_get() (POST /parse/functions/read1d {"id":":id"} with
# a session token, the object readable by that user only; a declared read,
# MIST_B_FN=read1 for the host API undeclared), beside case C
# (POST /parse/functions/hello) and case A (GET /parse/classes/Item/:id),
# on one agent.  Folded into contrib/bench/http.sh, which runs these rows
# for every server: this is http.sh with mist only and no idle probe.
#
#   contrib/bench/hostapi.sh [SECONDS]     seconds per row (default 5)
#
# Environment: BUILD (a build folder: its src/cmd/mist is used; default:
# http.sh builds _bench/), and http.sh's (RUNS, WARMUP, WRK_CONNS,
# WRK_THREADS, MIST_B_FN...).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -n "${BUILD:-}" ] && export MIST_BIN=${MIST_BIN:-$root/$BUILD/src/cmd/mist}
ONLY=mist IDLE_CONNS=0 exec "$root/contrib/bench/http.sh" "$@"
