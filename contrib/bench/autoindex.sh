#!/usr/bin/env bash
# Automatic indexes (docs/INDEXES.md) measured: one mist agent, one app,
# one class of N objects, one query on an unindexed field, three rows:
#
#   scan      the query with no index: every object of the class examined
#             (N is under the accessory's scan bound, DOCS_SCAN_MAX = 1000,
#             so it runs instead of being refused; automatic indexing is
#             held off for this row with `--index-budget 1`, a budget no
#             index fits: the shape is watched and "not built", which
#             `mist apps indexes` shows)
#   auto      the same query once the accessory has built its index by
#             itself (`--index-budget 0`: the default; a few queries make
#             it due, the script waits until `mist apps indexes` says it
#             is ready)
#   declared  the same query on a second class holding the same objects,
#             with the same index declared (`mist apps index APP D by_k
#             k`); auto and declared runs alternate, so the drift of a
#             shared machine falls on both alike
#
# and, with BIG objects (default 5000, past the scan bound), the query
# refused (400 code 102) at first, then served by its automatic index
# (the big_auto row), against a declared one on a twin class
# (big_declared).
#
# The query is GET /parse/classes/Q?where={"k":V}&limit=10 with the REST
# key, one object matching (k is 0..N-1), as contrib/bench/wrk/parse.lua
# sends it.  Per row: requests/s, latency p50/p99 (wrk --latency), the
# median of RUNS runs.  Target: auto within 1.5x of declared.
#
#   contrib/bench/autoindex.sh [SECONDS]   seconds per run (default 5)
#
# Environment: MIST_BIN (default: built in _bench/), N (900), BIG (5000;
# 0: no big rows), WRK_CONNS (16), WRK_THREADS (1), RUNS (3), WARMUP (1).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
dur=${1:-5}
n_small=${N:-900}
n_big=${BIG:-5000}
conns=${WRK_CONNS:-16}
threads=${WRK_THREADS:-1}
runs=${RUNS:-3}
warmup=${WARMUP:-1}
lua=$root/contrib/bench/wrk/parse.lua
for t in wrk curl jq; do
	command -v "$t" >/dev/null || { echo "autoindex.sh: $t not found (contrib/deps.sh bench)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/mist-autoindex.XXXXXX)
mist_pid=""
cleanup() {
	if [ -n "$mist_pid" ]; then
		kill "$mist_pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$mist_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$mist_pid" 2>/dev/null
		wait "$mist_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
say() { printf '%s\n' "$*"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# wait_for CMD SECONDS: until CMD succeeds (bounded)
wait_for() {
	local i
	for i in $(seq $(($2 * 10))); do eval "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
ms() { # wrk latency ("812.00us", "1.23ms", "2.01s") in ms
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
		else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
say "# contrib/bench/autoindex.sh $dur (N=$n_small BIG=$n_big RUNS=$runs WARMUP=$warmup WRK_CONNS=$conns WRK_THREADS=$threads), $(date -u '+%F %T') UTC, load average $(loadavg)"

mist=${MIST_BIN:-}
if [ -z "$mist" ]; then
	[ -x configure ] || autoreconf -fi >/dev/null
	mkdir -p _bench
	(cd _bench && { [ -f Makefile ] || ../configure -q --disable-tests; } &&
	 make -j"$(nproc)" src/cmd/mist >/dev/null) ||
		{ echo "autoindex.sh: building mist in _bench failed" >&2; exit 1; }
	mist=$root/_bench/src/cmd/mist
fi
"$mist" keygen >"$work/mist.key"
say "# $mist agent --data $work/mist --key $work/mist.key --bind 127.0.0.1:0 --http 127.0.0.1:0 --log-level warn"
"$mist" agent --data "$work/mist" --key "$work/mist.key" --bind 127.0.0.1:0 --http 127.0.0.1:0 \
	--log-level warn 2>"$work/mist.log" &
mist_pid=$!
wait_for "[ -s $work/mist/http.addr ] && [ -s $work/mist/agent.addr ]" 30 || { cat "$work/mist.log" >&2; exit 1; }
url=http://$(cat "$work/mist/http.addr")/parse
agent=$(cat "$work/mist/agent.addr")
cli() { "$mist" "$@" --agent "$agent" --key "$work/mist.key"; }
out=$(cli apps create bench --client-class-creation --format json) || { echo "autoindex.sh: mist apps create failed" >&2; exit 1; }
app=$(jq -r .applicationId <<<"$out") rest=$(jq -r .restKey <<<"$out")
H=(-H "X-Parse-Application-Id: $app" -H "X-Parse-REST-API-Key: $rest" -H 'Content-Type: application/json')
say "# app $app at $url"

# fill CLASS COUNT: COUNT objects {"k": i, "pad": "..."} through /batch
fill() {
	local cls=$1 n=$2 at=0 body i
	while [ "$at" -lt "$n" ]; do
		body='{"requests":['
		for i in $(seq "$at" $((at + 49 < n - 1 ? at + 49 : n - 1))); do
			body+="{\"method\":\"POST\",\"path\":\"/parse/classes/$cls\",\"body\":{\"k\":$i,\"pad\":\"object number $i of the benchmark\"}},"
		done
		body="${body%,}]}"
		out=$(curl -sf "${H[@]}" -X POST --data-binary "$body" "$url/batch") &&
			[ "$(jq '[.[] | select(.success == null)] | length' <<<"$out")" = 0 ] ||
			{ echo "autoindex.sh: filling $cls failed: ${out:0:300}" >&2; return 1; }
		at=$((at + 50))
	done
}
# q CLASS V: the query's URL
q() { printf '%s/classes/%s?where=%%7B%%22k%%22%%3A%s%%7D&limit=10' "$url" "$1" "$2"; }
status_of() { curl -s -o /dev/null -w '%{http_code}' "${H[@]}" "$1"; }
# index_state CLASS NAME: the state of index NAME ("" if absent)
index_state() {
	cli apps indexes "$app" "$1" --format json | jq -r --arg n "$2" '.indexes[] | select(.name == $n) | .state'
}

declare -A R_RPS R_P50 R_P99 R_NOTE RES
rows=()
# run1 KEY URL: one wrk run, its result added to KEY's
run1() {
	local key=$1 u=$2 out n rps p50 p99 bad
	case " ${rows[*]} " in *" $key "*) ;; *)
		rows+=("$key")
		say "# $key: PARSE_APP_ID=$app PARSE_REST_KEY=... wrk -t$threads -c$conns -d${dur}s --latency -s contrib/bench/wrk/parse.lua '$u'" ;;
	esac
	out=$(env "PARSE_APP_ID=$app" "PARSE_REST_KEY=$rest" wrk -t"$threads" -c"$conns" -d"${dur}s" --latency -s "$lua" "$u" 2>&1)
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	[ -n "$n" ] && [ "$n" -gt 0 ] || { R_NOTE[$key]="INVALID: no answers"; say "$out"; return; }
	rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
	p50=$(ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
	p99=$(ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	RES[$key]+="$rps|$p50|$p99|${bad:+INVALID: $bad non-2xx}"$'\n'
	say "#   $key run: $rps req/s, p50 $p50 ms, p99 $p99 ms${bad:+ ($bad non-2xx)}; load average $(loadavg)"
}
# median KEY: the median run (by requests/s) into R_*
median() {
	IFS='|' read -r R_RPS[$1] R_P50[$1] R_P99[$1] R_NOTE[$1] <<<"$(printf '%s' "${RES[$1]}" |
		sort -t'|' -k1,1n | awk -v m=$(( (runs + 1) / 2 )) 'NR == m')"
}
warm() { # warm URL: unmeasured load
	[ "$warmup" -gt 0 ] && env "PARSE_APP_ID=$app" "PARSE_REST_KEY=$rest" wrk -t"$threads" -c"$conns" -d"${warmup}s" -s "$lua" "$1" >/dev/null 2>&1
	return 0
}
# pair A URL_A B URL_B: runs of A and B alternated (and which goes first),
# so the machine's drift (2 shared cores) falls on both alike
pair() {
	local i
	warm "$2"; warm "$4"
	for i in $(seq "$runs"); do
		# A B, then B A: neither always runs first
		if [ $((i % 2)) = 1 ]; then run1 "$1" "$2"; run1 "$3" "$4"
		else run1 "$3" "$4"; run1 "$1" "$2"; fi
	done
	median "$1"; median "$3"
}

# ------------------------------------------------------ the small classes
# Q gets its index by itself, D (the same objects) a declared one
fill Q "$n_small" && fill D "$n_small" || exit 1
v=$((n_small / 2))
say "# classes Q and D: $n_small objects each; query k = $v"
cli apps set "$app" --index-budget 1 >/dev/null || exit 1
[ "$(curl -s "${H[@]}" "$(q Q $v)" | jq '.results | length')" = 1 ] ||
	{ echo "autoindex.sh: the query does not find its object" >&2; exit 1; }
warm "$(q Q $v)"
for i in $(seq "$runs"); do run1 scan "$(q Q $v)"; done
median scan
say "#   $(cli apps indexes "$app" Q --format json | jq -c '.shapes[] | {shape, queries, state, note}' | head -1)"
[ -z "$(index_state Q auto_k)" ] || say "# WARNING: an automatic index exists during the scan row"
cli apps set "$app" --index-budget 0 >/dev/null || exit 1
for i in 1 2 3 4 5; do status_of "$(q Q $i)" >/dev/null; done
cli apps index "$app" D by_k k >/dev/null || exit 1
wait_for '[ "$(index_state Q auto_k)" = ready ] && [ "$(index_state D by_k)" = ready ]' 60 ||
	{ echo "autoindex.sh: no automatic index auto_k on Q or no by_k on D"; cli apps indexes "$app"; exit 1; }
say "# $(cli apps indexes "$app" --format json | jq -c '.indexes[] | {class, name, kind, state, entries, bytes, reason}' | paste -sd' ')"
pair auto "$(q Q $v)" declared "$(q D $v)"

# -------------------------------------------------------- the big classes
if [ "$n_big" -gt 0 ]; then
	fill Big "$n_big" && fill BigD "$n_big" || exit 1
	v=$((n_big / 2))
	say "# classes Big and BigD: $n_big objects each; query k = $v"
	say "# before: HTTP $(status_of "$(q Big $v)") ($(curl -s "${H[@]}" "$(q Big $v)"))"
	for i in 1 2 3; do status_of "$(q Big $i)" >/dev/null; done
	cli apps index "$app" BigD by_k k >/dev/null || exit 1
	wait_for '[ "$(index_state Big auto_k)" = ready ] && [ "$(index_state BigD by_k)" = ready ]' 120 ||
		{ echo "autoindex.sh: no automatic index auto_k on Big"; cli apps indexes "$app"; exit 1; }
	pair big_auto "$(q Big $v)" big_declared "$(q BigD $v)"
	say "#"
	cli apps indexes "$app" | sed 's/^/# /'
fi

# ------------------------------------------------------------ the table
say ""
printf '%-14s %10s %10s %10s  %s\n' row "req/s" "p50 ms" "p99 ms" note
for k in "${rows[@]}"; do
	printf '%-14s %10s %10s %10s  %s\n' "$k" "${R_RPS[$k]:-}" "${R_P50[$k]:-}" "${R_P99[$k]:-}" "${R_NOTE[$k]:-}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
say ""
say "auto/declared throughput $(ratio "${R_RPS[auto]:-0}" "${R_RPS[declared]:-0}"), p50 latency $(ratio "${R_P50[auto]:-0}" "${R_P50[declared]:-0}") (target: within 1.5x)"
say "auto/scan throughput $(ratio "${R_RPS[auto]:-0}" "${R_RPS[scan]:-0}") (N=$n_small)"
[ "$n_big" -gt 0 ] && say "big auto/declared throughput $(ratio "${R_RPS[big_auto]:-0}" "${R_RPS[big_declared]:-0}")"
exit 0
