#!/usr/bin/env bash
# Proves scenario.js against the real Parse Server: starts a private
# PostgreSQL cluster and Parse Server (npm parse-server, pinned by
# contrib/bench/parse-server/) in a temporary folder, runs the scenario with
# the master key (the class is created through the schema API: Parse 9
# refuses client class creation by default), and stops both at the end.
#
#   tests/sdk/run-parse.sh
#
# Needs node/npm and PostgreSQL (contrib/deps.sh bench); the first run
# downloads the npm packages into ~/.cache (see the install scripts).
set -uo pipefail
src=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$src/../.." && pwd)
. "$root/contrib/bench/parse-server/lib.sh"
work=$(mktemp -d /tmp/mist-sdk-parse.XXXXXX)
trap 'peers_stop; rm -rf "$work"' EXIT
pg_start "$work" || exit 1
parse_start "$work" || exit 1
echo "# Parse Server at $parse_url (PostgreSQL on 127.0.0.1:$pg_port)"
SDK_FN=${SDK_FN:-hello} SDK_FN_PARAMS=${SDK_FN_PARAMS:-'{"name":"x"}'} \
SDK_FN_EXPECT=${SDK_FN_EXPECT:-'{"hello":"x"}'} \
	"$src/run.sh" "$parse_url" "$parse_app" "$parse_js" "$parse_master"
rc=$?
[ $rc -ne 0 ] && { echo "# Parse Server's log:"; tail -30 "$work/parse/out.log"; }
exit $rc
