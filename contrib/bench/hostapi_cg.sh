#!/usr/bin/env bash
# Cases A, B and C of the mobile backend (contrib/bench/http.sh's) counted
# in instructions instead of timed: the agent runs under valgrind's
# callgrind, wrk loads one case at a time, and each case's instructions
# per request (the agent's user-space work; its executors run natively)
# are printed, with the functions where B spends more than C.  On a shared
# machine, whose timings move by 10-50 % from one minute to the next, this
# is the steady measure of a change to the path of a request: run it
# before and after (docs/BENCHMARKS.md, "Case B").
#
#   contrib/bench/hostapi_cg.sh [SECONDS]   seconds of load per case (4)
#
# Case B is read1d, whose read is declared (mist_plugin.h: the gateway
# makes it and the function's GET is answered in its executor); case Bh
# is read1, the same function reading through the host API.
#
# Environment: MIST_BIN (default _build/src/cmd/mist), WRK_CONNS (32),
# TOP (functions listed, 30), CG_OUT (a folder to keep the callgrind
# files in, cg.C, cg.A, cg.B, cg.Bh, for callgrind_annotate).  Needs valgrind and wrk (contrib/deps.sh
# bench).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
dur=${1:-4}
conns=${WRK_CONNS:-32}
top=${TOP:-30}
mist=${MIST_BIN:-$root/_build/src/cmd/mist}
for t in valgrind callgrind_annotate callgrind_control wrk curl jq; do
	command -v "$t" >/dev/null || { echo "hostapi_cg.sh: needs $t (contrib/deps.sh bench)" >&2; exit 1; }
done
[ -x "$mist" ] || { echo "hostapi_cg.sh: no mist binary at $mist (set MIST_BIN)" >&2; exit 1; }
work=$(mktemp -d /tmp/mist-cg.XXXXXX)
agent=""
cleanup() {
	[ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
	[ -n "${CG_OUT:-}" ] && mkdir -p "$CG_OUT" && cp "$work"/cg.[A-Z]* "$CG_OUT"/
	rm -rf "$work"
}
trap cleanup EXIT

mp=$(pkg-config --cflags --libs msgpack-c 2>/dev/null || pkg-config --cflags --libs msgpack)
for p in testfns hostfns; do
	# shellcheck disable=SC2086
	${CC:-cc} -O2 -shared -fPIC -I"$root/include" -o "$work/$p.so" "$root/tests/plugins/$p.c" $mp ||
		{ echo "hostapi_cg.sh: building tests/plugins/$p.c failed" >&2; exit 1; }
done
"$mist" keygen >"$work/mist.key"
echo "# valgrind --tool=callgrind $mist agent --http 127.0.0.1:0 --plugin testfns.so --plugin hostfns.so"
valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" "$mist" agent --data "$work/mist" \
	--key "$work/mist.key" --bind 127.0.0.1:0 --http 127.0.0.1:0 --plugin "$work/testfns.so" \
	--plugin "$work/hostfns.so" --log-level warn 2>"$work/agent.log" &
agent=$!
for _ in $(seq 600); do
	[ -s "$work/mist/http.addr" ] && [ -s "$work/mist/agent.addr" ] && break
	sleep 0.1
done
[ -s "$work/mist/http.addr" ] || { cat "$work/agent.log" >&2; exit 1; }
url=http://$(cat "$work/mist/http.addr")/parse
out=$("$mist" apps create bench --agent "$(cat "$work/mist/agent.addr")" --key "$work/mist.key" \
	--format json --functions hello,read1,read1d) || exit 1
app=$(jq -r .applicationId <<<"$out") rest=$(jq -r .restKey <<<"$out") master=$(jq -r .masterKey <<<"$out")
A="X-Parse-Application-Id: $app" K="X-Parse-REST-API-Key: $rest" J='Content-Type: application/json'
curl -sf -X POST -H "$A" -H "X-Parse-Master-Key: $master" -H "$J" \
	--data-binary '{"className":"Item","fields":{"score":{"type":"Number"}}}' "$url/schemas/Item" >/dev/null || exit 1
out=$(curl -sf -X POST -H "$A" -H "$K" -H "$J" --data-binary '{"username":"bench","password":"bench-pw-1"}' "$url/users") || exit 1
uid=$(jq -r .objectId <<<"$out") tok=$(jq -r .sessionToken <<<"$out")
out=$(curl -sf -X POST -H "$A" -H "$K" -H "X-Parse-Session-Token: $tok" -H "$J" \
	--data-binary "{\"score\":1,\"ACL\":{\"$uid\":{\"read\":true,\"write\":true}}}" "$url/classes/Item") || exit 1
item=$(jq -r .objectId <<<"$out")

# case NAME PATH [METHOD BODY]: loads it, prints instructions per request
declare -A per
case_run() {
	local name=$1 path=$2 method=${3:-GET} body=${4:-} out n ir f
	callgrind_control -z "$agent" >/dev/null 2>&1
	out=$(WRK_METHOD=$method WRK_BODY=$body PARSE_APP_ID=$app PARSE_REST_KEY=$rest PARSE_SESSION=$tok \
		wrk -t1 -c"$conns" -d"${dur}s" -s contrib/bench/wrk/parse.lua "$url$path")
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	callgrind_control -d "$name" "$agent" >/dev/null 2>&1
	sleep 1
	f=$(ls -t "$work"/cg.* | grep -v "\.$name$" | head -1)
	mv "$f" "$work/cg.$name"
	ir=$(callgrind_annotate "$work/cg.$name" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
	per[$name]=$n
	printf '%-6s %-32s %7s requests  %7d instructions/request\n' "$name" "$method $path" "$n" $((ir / n))
}
echo "# wrk -t1 -c$conns -d${dur}s per case, the agent's instructions per request (callgrind Ir)"
case_run C /functions/hello POST '{"name":"x"}'
case_run A "/classes/Item/$item"
case_run B /functions/read1d POST "{\"id\":\"$item\"}"
case_run Bh /functions/read1 POST "{\"id\":\"$item\"}"

# the functions (inclusive) where B spends more than C, per request
echo "# per request: C, B, B - C (inclusive instructions of each function)"
incl() {
	callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$1" 2>/dev/null |
		awk -v n="$2" '/^ *[0-9,]+ \(/ { v=$1; gsub(",", "", v); name=$0
			sub(/^ *[0-9,]+ \([^)]*\) +/, "", name); sub(/ \[.*$/, "", name)
			sub(/^.*:/, "", name); if (v / n > s[name]) s[name] = v / n }
			END { for (k in s) printf "%s\t%.0f\n", k, s[k] }'
}
join -t $'\t' -a 2 -e 0 -o 0,1.2,2.2 <(incl "$work/cg.C" "${per[C]}" | LC_ALL=C sort) \
	<(incl "$work/cg.B" "${per[B]}" | LC_ALL=C sort) |
	awk -F'\t' '{ printf "%d\t%8d %8d %+8d  %s\n", $3 - $2, $2, $3, $3 - $2, $1 }' |
	sort -t $'\t' -k1,1nr | cut -f2- | head -n "$top"
