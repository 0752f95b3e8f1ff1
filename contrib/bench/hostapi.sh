#!/usr/bin/env bash
# The host API's cost (issue 14): an add-on function that reads one object
# through mist_docs() (POST /parse/functions/read1 {"id":":id"} with a
# session token, the object readable by that user only) against a
# function that does not touch the documents (POST /parse/functions/hello),
# and the plain read itself (GET /parse/classes/Item/:id), on one agent
# started as contrib/bench/http.sh starts it.
#
#   contrib/bench/hostapi.sh [SECONDS]     seconds per row (default 5)
#
# Environment: BUILD (the build folder, default _build: its src/cmd/mist,
# tests/plugins/.libs/hostfns.so and examples/addon/.libs/hello.so),
# WRK_CONNS (32), WRK_THREADS (1), EXECUTORS (default: the agent's),
# MIST_DOCS_URL (a libpq connection string: the agent runs --docs postgres
# on that server, docs/POSTGRES.md; default: LMDB).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
dur=${1:-5}
build=${BUILD:-_build}
mist=$root/$build/src/cmd/mist
lua=$root/contrib/bench/wrk/parse.lua
conns=${WRK_CONNS:-32}
threads=${WRK_THREADS:-1}
for t in wrk curl jq; do
	command -v "$t" >/dev/null || { echo "hostapi.sh: $t not found" >&2; exit 1; }
done
work=$(mktemp -d /tmp/mist-hostapi.XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
"$mist" keygen >"$work/key"
xargs=()
[ -n "${EXECUTORS:-}" ] && xargs=(--executors "$EXECUTORS")
[ -n "${MIST_DOCS_URL:-}" ] && xargs+=(--docs postgres --docs-url "$MIST_DOCS_URL")
echo "# mist agent --http 127.0.0.1:0 --plugin hostfns.so --plugin hello.so ${xargs[*]} ($(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
"$mist" agent --data "$work/data" --key "$work/key" --bind 127.0.0.1:0 --http 127.0.0.1:0 \
	--plugin "$root/$build/tests/plugins/.libs/hostfns.so" \
	--plugin "$root/$build/examples/addon/.libs/hello.so" "${xargs[@]}" \
	--log-level warn 2>"$work/log" &
pid=$!
for _ in $(seq 300); do
	[ -s "$work/data/http.addr" ] && [ -s "$work/data/agent.addr" ] && break
	sleep 0.1
done
url=http://$(cat "$work/data/http.addr")/parse
out=$("$mist" apps create bench --agent "$(cat "$work/data/agent.addr")" --key "$work/key" \
	--format json --functions hello,read1 --client-class-creation) || exit 1
app=$(jq -r .applicationId <<<"$out") rest=$(jq -r .restKey <<<"$out")
H=(-H "X-Parse-Application-Id: $app" -H "X-Parse-REST-API-Key: $rest" -H "Content-Type: application/json")
for _ in $(seq 100); do
	u=$(curl -s "${H[@]}" -X POST "$url/users" -d '{"username":"bench","password":"pw"}')
	token=$(jq -r '.sessionToken // empty' <<<"$u") uid=$(jq -r '.objectId // empty' <<<"$u")
	[ -n "$token" ] && break
	sleep 0.1
done
[ -n "$token" ] || { echo "hostapi.sh: signup failed: $u" >&2; exit 1; }
item=$(curl -s "${H[@]}" -H "X-Parse-Session-Token: $token" -X POST "$url/classes/Item" \
	-d "{\"n\":1,\"ACL\":{\"$uid\":{\"read\":true,\"write\":true}}}" | jq -r .objectId)
for _ in $(seq 100); do
	b=$(curl -s "${H[@]}" -H "X-Parse-Session-Token: $token" -X POST "$url/functions/read1" -d "{\"id\":\"$item\"}")
	grep -q "$item" <<<"$b" && break
	sleep 0.1
done
echo "# read1 answers: $b"
echo "# hello answers: $(curl -s "${H[@]}" -X POST "$url/functions/hello" -d '{"name":"x"}')"
export PARSE_APP_ID=$app PARSE_REST_KEY=$rest PARSE_SESSION=$token
row() {
	local name=$1 u=$2
	shift 2
	env "$@" wrk -t"$threads" -c"$conns" -d2s -s "$lua" "$u" >/dev/null 2>&1 # warm-up
	local o
	o=$(env "$@" wrk -t"$threads" -c"$conns" -d"${dur}s" --latency -s "$lua" "$u")
	printf '%-28s %10s req/s  p50 %8s  p99 %8s  non-2xx %s\n' "$name" \
		"$(awk '/Requests\/sec/ {print $2}' <<<"$o")" \
		"$(awk '$1 == "50%" {print $2}' <<<"$o")" \
		"$(awk '$1 == "99%" {print $2}' <<<"$o")" \
		"$(awk '/Non-2xx/ {print $5}' <<<"$o" | grep . || echo 0)"
}
echo "# wrk -t$threads -c$conns -d${dur}s, keep-alive"
row "POST /functions/hello" "$url/functions/hello" WRK_METHOD=POST 'WRK_BODY={"name":"x"}'
row "POST /functions/read1" "$url/functions/read1" WRK_METHOD=POST "WRK_BODY={\"id\":\"$item\"}"
row "GET /classes/Item/:id" "$url/classes/Item/$item"
# a write: an object created per request (a commit each, grouped by the
# store: LMDB's fsync batches, PostgreSQL's pipeline)
row "POST /classes/Item" "$url/classes/Item" WRK_METHOD=POST 'WRK_BODY={"n":2}'
