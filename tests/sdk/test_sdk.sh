#!/bin/sh
# test_sdk.sh -- the official Parse JS SDK against a real mist agent's HTTP
# gateway: starts one agent (--http 127.0.0.1:0, the test plugin), creates
# an app with `mist apps create`, and runs scenario.js with its keys (the
# scenario prints TAP; its plan is this test's plan).  From `make check`
# (Makefile.am's SH_LOG_COMPILER and AM_TESTS_ENVIRONMENT give MIST_BIN,
# MIST_BUILDDIR, MIST_SRCDIR); by hand:
#
#   tests/sdk/install.sh /tmp/sdk
#   MIST_SDK_DIR=/tmp/sdk MIST_BIN=_build/src/cmd/mist MIST_BUILDDIR=_build MIST_SRCDIR=. sh tests/sdk/test_sdk.sh
#
# Skipped (TAP "1..0 # SKIP"), saying why, when node is missing, when
# MIST_SDK_DIR is not set, or when the mist binary has no `agent --http`.
# The SDK is read from $MIST_SDK_DIR, filled beforehand by
# tests/sdk/install.sh (contrib/check.sh does it): the test downloads
# nothing, and fails if that folder does not hold what package-lock.json
# pins.  The agent's data goes to a fresh folder under $TMPDIR, removed at
# exit: it passes in distcheck's read-only source tree.
#
#   SDK_FN, SDK_FN_PARAMS, SDK_FN_EXPECT   the cloud function called (default:
#                  the test plugin's hello, {"name":"x"} -> {"hello":"x"})
#   MIST_APPS_ARGS extra arguments to `mist apps create`
set -u

# How long the agent may take to write its addresses, in steps of
# WAIT_STEP seconds: 30 s, generous for a loaded machine under ASan.
WAIT_STEPS=300
WAIT_STEP=0.1

skip_all() { echo "1..0 # SKIP $1"; exit 0; }
bail() { echo "Bail out! $1"; [ -f "$work/agent.log" ] && sed 's/^/# /' "$work/agent.log"; exit 1; }

: "${MIST_BIN:?MIST_BIN must name the mist binary}"
: "${MIST_BUILDDIR:?MIST_BUILDDIR must name the build tree}"
: "${MIST_SRCDIR:?MIST_SRCDIR must name the source tree}"
sdk=$MIST_SRCDIR/tests/sdk
plugin=$MIST_BUILDDIR/tests/plugins/.libs/testfns.so
# the function that reads data (read1) and the GameScore trigger
hostfns=$MIST_BUILDDIR/tests/plugins/.libs/hostfns.so
trigfns=$MIST_BUILDDIR/examples/addon/.libs/triggers.so

command -v node >/dev/null 2>&1 || skip_all "node not found (contrib/deps.sh installs it)"
help=$("$MIST_BIN" agent --help 2>&1)
printf '%s\n' "$help" | grep -q -- '--http ' || skip_all "$MIST_BIN has no 'agent --http'"
[ -f "$plugin" ] || skip_all "no test plugin at $plugin"
[ -f "$hostfns" ] || bail "no host API test plugin at $hostfns"
[ -f "$trigfns" ] || bail "no trigger plugin at $trigfns"
work=$(mktemp -d "${TMPDIR:-/tmp}/mist-sdk.XXXXXX") || bail "mktemp failed"
# The SDK is installed beforehand by the project's own script
# (tests/sdk/install.sh DIR; contrib/check.sh does it into _check/sdk):
# the test itself downloads nothing.  Without MIST_SDK_DIR it is skipped;
# with it, an install that does not match package-lock.json fails it.
[ -n "${MIST_SDK_DIR:-}" ] ||
	skip_all "MIST_SDK_DIR is not set (tests/sdk/install.sh DIR installs the SDK there; contrib/check.sh does)"
mods=$MIST_SDK_DIR
want=$(sha256sum "$sdk/package-lock.json" | cut -d' ' -f1)
[ -d "$mods/node_modules/parse" ] && [ "$(cat "$mods/.lock.sha256" 2>/dev/null)" = "$want" ] ||
	bail "MIST_SDK_DIR=$mods does not hold the SDK package-lock.json pins (run tests/sdk/install.sh $mods)"
agent=""
# SIGTERM, then SIGKILL if the agent has not exited after AGENT_STOP_STEPS
# steps of WAIT_STEP (10 s): a hung shutdown must not hang make check
AGENT_STOP_STEPS=100
cleanup() {
	if [ -n "$agent" ] && kill "$agent" 2>/dev/null; then
		i=0
		while kill -0 "$agent" 2>/dev/null && [ $i -lt $AGENT_STOP_STEPS ]; do
			i=$((i + 1)); sleep $WAIT_STEP
		done
		if kill -0 "$agent" 2>/dev/null; then
			echo "# the agent did not exit within $((AGENT_STOP_STEPS / 10)) s of SIGTERM: killed"
			kill -9 "$agent" 2>/dev/null
		fi
		wait "$agent" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$MIST_BIN" keygen >"$work/key" || bail "mist keygen failed"
# MIST_SDK_PG (a libpq connection string): the agent keeps the documents in
# that PostgreSQL server (--docs postgres, docs/POSTGRES.md) instead of LMDB
docs=()
[ -n "${MIST_SDK_PG:-}" ] && docs=(--docs postgres --docs-url "$MIST_SDK_PG")
"$MIST_BIN" agent --data "$work/a" --key "$work/key" --bind 127.0.0.1:0 \
	--http 127.0.0.1:0 --plugin "$plugin" --plugin "$hostfns" --plugin "$trigfns" \
	"${docs[@]}" --log-level warn 2>"$work/agent.log" &
agent=$!
i=0
while ! { [ -s "$work/a/http.addr" ] && [ -s "$work/a/agent.addr" ]; }; do
	i=$((i + 1))
	[ $i -le $WAIT_STEPS ] || bail "the agent wrote no http.addr within $((WAIT_STEPS / 10)) s"
	kill -0 "$agent" 2>/dev/null || bail "the agent exited"
	sleep $WAIT_STEP
done
url=http://$(cat "$work/a/http.addr")/parse

# the app may call the scenario's function (when `mist apps` has
# --functions: an app's add-on functions are a list it is allowed)
fns=""
"$MIST_BIN" apps --help 2>&1 | grep -q -- '--functions' && fns="--functions ${SDK_FN:-hello},${SDK_READ_FN:-read1},beforeSave:GameScore"
# shellcheck disable=SC2086
"$MIST_BIN" apps create sdk --agent "$(cat "$work/a/agent.addr")" --key "$work/key" \
	--format json $fns ${MIST_APPS_ARGS:-} >"$work/app.json" 2>"$work/apps.err" ||
	bail "mist apps create failed: $(cat "$work/apps.err")"
key() {
	node -e 'const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		if (typeof a[process.argv[2]] !== "string") process.exit(1);
		console.log(a[process.argv[2]]);' "$work/app.json" "$1" 2>/dev/null
}
app=$(key applicationId) || bail "mist apps create printed no applicationId: $(cat "$work/app.json")"
js=$(key javascriptKey) || bail "mist apps create printed no javascriptKey: $(cat "$work/app.json")"
master=$(key masterKey) || bail "mist apps create printed no masterKey: $(cat "$work/app.json")"

echo "# $url app $app"
SDK_FN=${SDK_FN:-hello} SDK_FN_PARAMS=${SDK_FN_PARAMS:-'{"name":"x"}'} \
SDK_FN_EXPECT=${SDK_FN_EXPECT:-'{"hello":"x"}'} \
NODE_PATH="$mods/node_modules" node "$sdk/scenario.js" "$url" "$app" "$js" "$master"
rc=$?
[ $rc -ne 0 ] && sed 's/^/# agent: /' "$work/agent.log" | tail -40
exit $rc
