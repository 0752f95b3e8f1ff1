#!/usr/bin/env bash
# The mobile backend's HTTP gateway against its peers, side by side in one
# run, one load generator (wrk, Debian), the same requests for all
# (the paper's Table 2 cases, docs/BENCHMARKS.md "Mobile backend (Table 2)"):
#
#   case C  a trivial add-on function: POST /parse/functions/hello {"name":"x"}
#           answered {"result":{"hello":"x"}}
#   case A  a CRUD read with an ACL check: GET /parse/classes/Item/:id with
#           a session token, the object readable by that user only
#   case B  an add-on function doing that read: POST /parse/functions/read1
#           {"id":":id"} with the session token (Parse's cloud code reads as
#           the caller); mist's is tests/plugins/hostfns.c's read1d, one
#           mist_doc_get as the caller of the object its params name, a
#           read it declares (mist_plugin.h, "Declared reads": the gateway
#           makes it when the call arrives); MIST_B_FN=read1 is the same
#           function through the host API, undeclared
#
#   nginx         `return 200` with case C's exact answer body, one worker:
#                 the ceiling of an HTTP server on this machine
#   Parse Server  npm parse-server (contrib/bench/parse-server/), one
#                 Node.js process, on a private PostgreSQL 15 cluster
#   mist          one agent, --http (and --https when it has it) with the
#                 test plugin; skipped, saying so, if the binary has no --http
#
# Each server is asked, per row, with HTTP/1.1 keep-alive and with
# `Connection: close` (one request per connection, as the paper measured),
# over HTTP and HTTPS.  Over HTTPS with Connection: close wrk resumes the
# TLS session on each reconnect when the server lets it: nginx gets two TLS
# listeners, one with its defaults (session tickets on: resumed handshakes)
# and one with `ssl_session_tickets off; ssl_session_cache off;` (a full
# handshake per request); the script checks which is which with
# `openssl s_client -reconnect` and says so.
#
# Per row: requests/s, latency p50/p99 (wrk --latency), server CPU per
# request (from /proc/PID/task/*/schedstat over the row, the server's
# processes only: nginx master and worker; Parse's node and every
# PostgreSQL process; the mist agent and its executors), server RSS after
# the row (VmRSS; PostgreSQL's PSS apart); each run's line splits the CPU
# between the front process (mist's agent) and the others (its executors).  Before its rows, an
# idle-connections probe per server: IDLE_CONNS (10 000) idle keep-alive
# connections held open by contrib/bench/idleconns.py, the server's RSS
# before (just started, set up) and with them; after its rows, the same
# over TLS (nginx, mist), each connection after a full handshake.
#
#   contrib/bench/http.sh [SECONDS]        seconds per row (default 5)
#
# Environment:
#   MIST_BIN       the mist binary (default: built in _bench/, as the other
#                  benchmarks do)
#   MIST_PLUGIN    the functions plugin (default: tests/plugins/testfns.c,
#                  compiled for the run)
#   MIST_FN        mist's case C function (default hello: the test plugin's,
#                  answering {"hello":"x"} as Parse's cloud code does), called
#                  with MIST_FN_PARAMS ({"name":"x"}, for Parse too)
#   MIST_B_FN      mist's case B function, called with {"id":":id"} and the
#                  session token (default read1d; empty: mist's B rows
#                  skipped)
#   MIST_B_PLUGIN  the plugin offering it (default: tests/plugins/hostfns.c,
#                  compiled for the run; empty: only MIST_PLUGIN is loaded)
#   MIST_APPS_ARGS extra arguments to `mist apps create`
#   WRK_CONNS      connections (default 32), WRK_THREADS (default 1: wrk
#                  shares the 2 cores with the server)
#   RUNS           wrk runs per row, the median kept (default 3)
#   PAIRS          mist's C and B once more, one run each, alternating, this
#                  many times (default 0): each pair meets the same machine,
#                  and the median of the pairs' B/C is steadier than that
#                  of two rows on a machine whose speed moves
#   WARMUP         seconds of unmeasured load before each row (default 2)
#   IDLE_CONNS     idle connections of the probe (default 10000; 0: no probe)
#   ONLY           space-separated subset of "nginx parse mist"
#
# (contrib/bench/hostapi.sh, the host API's own measurement, is this script
# with ONLY=mist and no idle probe.)
#
# Prints every command it runs against a server, a table and the ratios.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
dur=${1:-5}
conns=${WRK_CONNS:-32}
threads=${WRK_THREADS:-1}
idle_n=${IDLE_CONNS:-10000}
runs=${RUNS:-3}
pairs_n=${PAIRS:-0}
warmup=${WARMUP:-2}
only=${ONLY:-nginx parse mist}
fn_params=${MIST_FN_PARAMS:-'{"name":"x"}'}
mist_fn=${MIST_FN:-hello}
mist_b_fn=${MIST_B_FN-read1d}
lua=$root/contrib/bench/wrk/parse.lua

./contrib/deps.sh bench || exit 1
for t in wrk nginx openssl curl jq python3 node; do
	command -v "$t" >/dev/null || { echo "http.sh: $t not found (contrib/deps.sh bench)" >&2; exit 1; }
done
# 10 000 idle connections and wrk's reconnects need descriptors: the
# servers inherit this limit
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge $((idle_n + 200)) ] ||
	{ echo "http.sh: open-file limit $(ulimit -n) is too low for IDLE_CONNS=$idle_n" >&2; exit 1; }

work=$(mktemp -d /tmp/mist-http.XXXXXX)
. "$root/contrib/bench/parse-server/lib.sh"
nginx_pid="" mist_pid=""
# stop PID (SIGTERM), waiting at most 10 s before SIGKILL, saying so
stop_bounded() {
	local pid=$1 what=$2 i
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		echo "http.sh: $what (pid $pid) did not exit within 10 s of SIGTERM: killed" >&2
		kill -9 "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
}
cleanup() {
	[ -n "$nginx_pid" ] && stop_bounded "$nginx_pid" nginx
	[ -n "$mist_pid" ] && stop_bounded "$mist_pid" "the mist agent"
	peers_stop
	rm -rf "$work"
}
trap cleanup EXIT
want() { case " $only " in *" $1 "*) return 0 ;; esac; return 1; }
say() { printf '%s\n' "$*"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
say "# contrib/bench/http.sh $dur (RUNS=$runs WARMUP=$warmup WRK_CONNS=$conns WRK_THREADS=$threads IDLE_CONNS=$idle_n ONLY='$only'), $(date -u '+%F %T') UTC, load average $(loadavg)"

# ------------------------------------------------------------ measuring
# CPU time (ns) of every thread of the given processes
cpu_ns() {
	local p t s=0
	for p in "$@"; do
		for t in /proc/"$p"/task/*/schedstat; do
			[ -r "$t" ] && s=$((s + $(cut -d' ' -f1 "$t" 2>/dev/null || echo 0)))
		done
	done
	echo "$s"
}
rss_kib() { local p s=0; for p in "$@"; do s=$((s + $(awk '/^VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0))); done; echo "$s"; }
pss_kib() { local p s=0; for p in "$@"; do s=$((s + $(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0))); done; echo "$s"; }
kids() { local p; for p in "$@"; do pgrep -P "$p"; done; }
pg_procs() { [ -n "$pg_pid" ] && { echo "$pg_pid"; kids "$pg_pid"; }; }
# the processes that do a server's work, per server
procs() {
	case $1 in
	nginx) echo "$nginx_pid"; kids "$nginx_pid" ;;
	parse) echo "$parse_pid"; pg_procs ;;
	mist) echo "$mist_pid"; kids "$mist_pid" ;;
	esac
}
# the process whose RSS the table shows (the one holding the connections)
front() {
	case $1 in
	nginx) kids "$nginx_pid" | head -1 ;;
	parse) echo "$parse_pid" ;;
	mist) echo "$mist_pid" ;;
	esac
}
ms() { # wrk latency ("812.00us", "1.23ms", "2.01s") in ms
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
		else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

declare -A R_RPS R_P50 R_P99 R_CPU R_RSS R_NOTE R_RUNS
rows=()
# row KEY SERVER URL [VAR=VALUE...]: $warmup seconds of warm-up, then
# $runs wrk runs; the median run (by requests/s; the lower one of an even
# count) under KEY, every run's requests/s in R_RUNS
row() {
	local key=$1 server=$2 url=$3; shift 3
	local cmd=(env "$@" wrk -t"$threads" -c"$conns" -d"${dur}s" --latency -s "$lua" "$url")
	say "# $key: $(printf '%q ' "$@")wrk -t$threads -c$conns -d${dur}s --latency -s contrib/bench/wrk/parse.lua $url"
	rows+=("$key")
	local i ps c0 c1 out n rps p50 p99 bad errs nerr note res=()
	# not measured: Node's JIT and every server's caches warm up
	[ "$warmup" -gt 0 ] && env "$@" wrk -t"$threads" -c"$conns" -d"${warmup}s" -s "$lua" "$url" >/dev/null 2>&1
	for i in $(seq "$runs"); do
		mapfile -t ps < <(procs "$server")
		c0=$(cpu_ns "${ps[@]}") f0=$(cpu_ns "$(front "$server")")
		out=$("${cmd[@]}" 2>&1)
		mapfile -t ps < <(procs "$server")
		c1=$(cpu_ns "${ps[@]}") f1=$(cpu_ns "$(front "$server")")
		n=$(awk '/requests in/ {print $1}' <<<"$out")
		if [ -z "$n" ] || [ "$n" -eq 0 ]; then
			R_NOTE[$key]="INVALID: no answers"
			say "$out"
			return
		fi
		rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
		p50=$(ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
		p99=$(ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
		bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
		errs=$(grep 'Socket errors' <<<"$out" | sed 's/^ *//; s/,//g')
		note=""
		[ -n "${bad:-}" ] && note="INVALID: $bad non-2xx answers"
		# socket errors are shown; over 1 % of the requests they void the run
		if [ -n "$errs" ]; then
			nerr=$(grep -o '[0-9]\+' <<<"$errs" | awk '{s += $1} END {print s + 0}')
			[ $((nerr * 100)) -gt "$n" ] && note="${note:+$note; }INVALID: $nerr socket errors"
			note="${note:+$note; }$errs"
		fi
		res+=("$rps|$p50|$p99|$(awk -v d=$((c1 - c0)) -v n="$n" 'BEGIN { printf "%.1f", d / n / 1000 }')|$note")
		# where the CPU went: the front process (mist's agent, nginx's
		# worker, node) and the rest (executors, master, PostgreSQL)
		say "#   run $i: $rps req/s, p50 $p50 ms, p99 $p99 ms, CPU us/req $(awk -v a=$((f1 - f0)) \
			-v d=$((c1 - c0)) -v n="$n" 'BEGIN { o = (d - a) / n / 1000; if (o < 0.05) o = 0; printf "%.1f front + %.1f others", a / n / 1000, o }') ${note:+($note)}"
	done
	local med
	med=$(printf '%s\n' "${res[@]}" | sort -t'|' -k1,1n | awk -v m=$(( (runs + 1) / 2 )) 'NR == m')
	IFS='|' read -r R_RPS[$key] R_P50[$key] R_P99[$key] R_CPU[$key] R_NOTE[$key] <<<"$med"
	R_RUNS[$key]=$(printf '%s\n' "${res[@]}" | cut -d'|' -f1 | paste -sd/)
	R_RSS[$key]=$(rss_kib "$(front "$server")")
	say "#   median: ${R_RPS[$key]} req/s, ${R_CPU[$key]} us CPU/req, RSS ${R_RSS[$key]} KiB; load average $(loadavg)"
}

declare -A I_BEFORE I_AFTER I_NOTE I_OPEN
idles=()
# idle LABEL SERVER HOST PORT PATH [--tls]: RSS of SERVER's front process
# before and with $idle_n idle keep-alive connections, under LABEL
idle() {
	local label=$1 server=$2 host=$3 port=$4 path=$5 tls=${6:-} p
	[ "$idle_n" -gt 0 ] || return 0
	idles+=("$label")
	p=$(front "$server")
	say "# idle $label: contrib/bench/idleconns.py $host $port $idle_n --path $path $tls"
	I_BEFORE[$label]=$(rss_kib "$p")
	# shellcheck disable=SC2086
	coproc IDLE { python3 "$root/contrib/bench/idleconns.py" "$host" "$port" "$idle_n" --path "$path" $tls 2>&1; }
	local line="" opened
	read -r -t 600 line <&"${IDLE[0]}"
	if [ "${line%% *}" != open ]; then
		I_NOTE[$label]="probe failed: $line"
		say "#   $line"
		kill "$IDLE_PID" 2>/dev/null; wait "$IDLE_PID" 2>/dev/null
		return
	fi
	# "open K" or "open K refused-at K+1: why" (the server's connection limit)
	opened=$(cut -d' ' -f2 <<<"$line")
	I_OPEN[$label]=$opened
	[ "$line" != "open $opened" ] && I_NOTE[$label]="${line#open $opened }; "
	sleep 1
	I_AFTER[$label]=$(rss_kib "$p")
	echo >&"${IDLE[1]}"
	read -r -t 60 line <&"${IDLE[0]}"
	wait "$IDLE_PID" 2>/dev/null
	I_NOTE[$label]="${I_NOTE[$label]:-}$line"
	say "#   RSS ${I_BEFORE[$label]} -> ${I_AFTER[$label]} KiB with $opened open (${I_NOTE[$label]})"
}

# ------------------------------------------------------------ REST setup
# call METHOD URL BODY HEADER...: prints the body; fails unless 2xx
call() {
	local m=$1 url=$2 body=$3; shift 3
	local h=() x out code
	for x in "$@"; do h+=(-H "$x"); done
	out=$(curl -s -X "$m" "${h[@]}" -H 'Content-Type: application/json' \
		${body:+--data-binary "$body"} -w '\n%{http_code}' "$url")
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	if [ "${code:0:1}" != 2 ]; then
		echo "http.sh: $m $url: HTTP $code: $out" >&2
		return 1
	fi
	printf '%s' "$out"
}
# rest_setup URL APP REST MASTER: class Item, a user, one Item only that
# user reads; sets S_TOKEN, S_ITEM
rest_setup() {
	local url=$1 app=$2 rest=$3 master=$4 out uid
	local A="X-Parse-Application-Id: $app" K="X-Parse-REST-API-Key: $rest"
	call POST "$url/schemas/Item" '{"className":"Item","fields":{"score":{"type":"Number"}}}' \
		"$A" "X-Parse-Master-Key: $master" >/dev/null || return 1
	out=$(call POST "$url/users" '{"username":"bench","password":"bench-pw-1"}' "$A" "$K") || return 1
	uid=$(jq -r .objectId <<<"$out"); S_TOKEN=$(jq -r .sessionToken <<<"$out")
	out=$(call POST "$url/classes/Item" "{\"score\":1,\"ACL\":{\"$uid\":{\"read\":true,\"write\":true}}}" \
		"$A" "$K" "X-Parse-Session-Token: $S_TOKEN") || return 1
	S_ITEM=$(jq -r .objectId <<<"$out")
	call GET "$url/classes/Item/$S_ITEM" "" "$A" "$K" "X-Parse-Session-Token: $S_TOKEN" | grep -q "\"$S_ITEM\"" ||
		{ echo "http.sh: $url: the owner cannot read its Item" >&2; return 1; }
	if call GET "$url/classes/Item/$S_ITEM" "" "$A" "$K" >/dev/null 2>&1; then
		echo "http.sh: $url: an anonymous client reads the user's Item: the ACL is not applied" >&2
		return 1
	fi
}

# ------------------------------------------------------------ the servers
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null || { echo "http.sh: openssl req failed" >&2; exit 1; }

body_c=""
if want parse; then
	pg_start "$work" || exit 1
	parse_start "$work" || exit 1
	say "# Parse Server $parse_url on PostgreSQL 127.0.0.1:$pg_port"
	rest_setup "$parse_url" "$parse_app" "$parse_rest" "$parse_master" || exit 1
	P_TOKEN=$S_TOKEN P_ITEM=$S_ITEM
	body_c=$(call POST "$parse_url/functions/hello" "$fn_params" \
		"X-Parse-Application-Id: $parse_app" "X-Parse-REST-API-Key: $parse_rest") || exit 1
	out=$(call POST "$parse_url/functions/read1" "{\"id\":\"$P_ITEM\"}" "X-Parse-Application-Id: $parse_app" \
		"X-Parse-REST-API-Key: $parse_rest" "X-Parse-Session-Token: $P_TOKEN") || exit 1
	[ "$(jq -r .result.objectId <<<"$out")" = "$P_ITEM" ] ||
		{ echo "http.sh: Parse's read1 answered $out" >&2; exit 1; }
fi

mist_https=""
if want mist; then
	mist=${MIST_BIN:-}
	if [ -z "$mist" ]; then
		# as the other benchmarks do (_bench/ may be configured --disable-tests)
		[ -x configure ] || autoreconf -fi >/dev/null
		mkdir -p _bench
		(cd _bench && { [ -f Makefile ] || ../configure -q --disable-tests; } &&
		 make -j"$(nproc)" src/cmd/mist >/dev/null) ||
			{ echo "http.sh: building mist in _bench failed" >&2; exit 1; }
		mist=$root/_bench/src/cmd/mist
	fi
	plugin=${MIST_PLUGIN:-}
	if [ -z "$plugin" ]; then
		# the test plugin needs nothing but include/mist_plugin.h
		plugin=$work/testfns.so
		${CC:-cc} -O2 -shared -fPIC -I"$root/include" -o "$plugin" "$root/tests/plugins/testfns.c" ||
			{ echo "http.sh: building tests/plugins/testfns.c failed" >&2; exit 1; }
	fi
	b_plugin=${MIST_B_PLUGIN-}
	if [ -n "$mist_b_fn" ] && [ -z "${MIST_B_PLUGIN+set}" ]; then
		# case B's read1d: the host API test plugin (msgpack-c for its
		# arguments and result)
		b_plugin=$work/hostfns.so
		# shellcheck disable=SC2046
		${CC:-cc} -O2 -shared -fPIC -I"$root/include" -o "$b_plugin" "$root/tests/plugins/hostfns.c" \
			$(pkg-config --cflags --libs msgpack-c 2>/dev/null || pkg-config --cflags --libs msgpack) ||
			{ echo "http.sh: building tests/plugins/hostfns.c failed" >&2; exit 1; }
	fi
	# (read whole, then searched: grep -q stopping early would be SIGPIPE to
	# mist, a failed pipeline under pipefail)
	agent_help=$("$mist" agent --help 2>&1)
	if ! grep -q -- '--http ' <<<"$agent_help"; then
		say "# mist: $mist has no 'agent --http' (the HTTP gateway is not in this build): mist rows skipped"
		only=${only//mist/}
	elif [ ! -f "$plugin" ]; then
		say "# mist: no functions plugin at $plugin (set MIST_PLUGIN): mist rows skipped"
		only=${only//mist/}
	fi
fi
if want mist; then
	"$mist" keygen >"$work/mist.key"
	args=(--http 127.0.0.1:0)
	if grep -q -- '--https ' <<<"$agent_help"; then
		args+=(--https 127.0.0.1:0 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
	fi
	args+=(--plugin "$plugin")
	[ -n "${b_plugin:-}" ] && args+=(--plugin "$b_plugin")
	# more agent options (contrib/bench/pg.sh: --docs postgres --docs-url)
	# shellcheck disable=SC2206
	[ -n "${MIST_AGENT_ARGS:-}" ] && args+=(${MIST_AGENT_ARGS})
	say "# mist agent --data $work/mist --key $work/mist.key --bind 127.0.0.1:0 ${args[*]} --log-level warn"
	"$mist" agent --data "$work/mist" --key "$work/mist.key" --bind 127.0.0.1:0 "${args[@]}" \
		--log-level warn 2>"$work/mist.log" &
	mist_pid=$!
	ps_wait "[ -s $work/mist/http.addr ] && [ -s $work/mist/agent.addr ]" 30 || { cat "$work/mist.log" >&2; exit 1; }
	mist_url=http://$(cat "$work/mist/http.addr")/parse
	[ -s "$work/mist/https.addr" ] && mist_https=https://$(cat "$work/mist/https.addr")/parse
	# the app may call the benchmark's functions (when `mist apps` has
	# --functions: an app's add-on functions are a list it is allowed)
	fns=()
	apps_help=$("$mist" apps --help 2>&1)
	grep -q -- '--functions' <<<"$apps_help" && fns=(--functions "$mist_fn${mist_b_fn:+,$mist_b_fn}")
	# shellcheck disable=SC2086
	out=$("$mist" apps create bench --agent "$(cat "$work/mist/agent.addr")" --key "$work/mist.key" \
		--format json "${fns[@]}" ${MIST_APPS_ARGS:-}) || { echo "http.sh: mist apps create failed" >&2; exit 1; }
	m_app=$(jq -r .applicationId <<<"$out") m_rest=$(jq -r .restKey <<<"$out") m_master=$(jq -r .masterKey <<<"$out")
	say "# mist gateway $mist_url ${mist_https:+and $mist_https }app $m_app"
	rest_setup "$mist_url" "$m_app" "$m_rest" "$m_master" || exit 1
	M_TOKEN=$S_TOKEN M_ITEM=$S_ITEM
	m_body=$(call POST "$mist_url/functions/$mist_fn" "$fn_params" \
		"X-Parse-Application-Id: $m_app" "X-Parse-REST-API-Key: $m_rest") || exit 1
	say "# mist case C answer: $m_body"
	if [ -n "$mist_b_fn" ]; then
		out=$(call POST "$mist_url/functions/$mist_b_fn" "{\"id\":\"$M_ITEM\"}" "X-Parse-Application-Id: $m_app" \
			"X-Parse-REST-API-Key: $m_rest" "X-Parse-Session-Token: $M_TOKEN") || exit 1
		grep -q "$M_ITEM" <<<"$out" || { echo "http.sh: mist's $mist_b_fn answered $out" >&2; exit 1; }
		# and only as the owner: anonymous, the read finds nothing (404)
		anon=$(call POST "$mist_url/functions/$mist_b_fn" "{\"id\":\"$M_ITEM\"}" "X-Parse-Application-Id: $m_app" \
			"X-Parse-REST-API-Key: $m_rest") || exit 1
		grep -q "$M_ITEM" <<<"$anon" && { echo "http.sh: mist's $mist_b_fn reads the Item anonymously: $anon" >&2; exit 1; }
		say "# mist case B, anonymous: $anon"
		say "# mist case B answer: $out"
	fi
	body_c=$m_body
fi
[ -n "$body_c" ] || body_c='{"result":{"hello":"x"}}'

if want nginx; then
	n_http=$(free_port) n_tls=$(free_port) n_full=$(free_port)
	mkdir -p "$work/nginx/logs"
	cat >"$work/nginx/nginx.conf" <<-EOF
	worker_processes 1;
	# twice the probe's connections: with fewer than 1/16 of them free, nginx
	# starts closing idle keep-alive connections (ngx_drain_connections)
	worker_rlimit_nofile $((2 * idle_n + 1000));
	error_log $work/nginx/logs/error.log warn;
	pid $work/nginx/nginx.pid;
	daemon off;
	events { worker_connections $((2 * idle_n + 500)); }
	http {
	    access_log off;
	    default_type application/json;
	    # as many requests per connection as the run sends (1.22's default
	    # is 1000), idle connections kept for the probe
	    keepalive_requests 100000000;
	    keepalive_timeout 300s;
	    client_body_temp_path $work/nginx/body;
	    ssl_certificate $work/cert.pem;
	    ssl_certificate_key $work/key.pem;
	    # plain HTTP
	    server { listen 127.0.0.1:$n_http; location / { return 200 '$body_c'; } }
	    # TLS, nginx's defaults: session tickets on (resumed handshakes)
	    server { listen 127.0.0.1:$n_tls ssl; location / { return 200 '$body_c'; } }
	    # TLS, a full handshake on every connection
	    server { listen 127.0.0.1:$n_full ssl; ssl_session_tickets off; ssl_session_cache off;
	             location / { return 200 '$body_c'; } }
	}
	EOF
	nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" &
	nginx_pid=$!
	ps_wait "curl -sf http://127.0.0.1:$n_http/" 10 || { cat "$work/nginx/logs/error.log" >&2; exit 1; }
	say "# nginx $(nginx -v 2>&1 | sed 's/.*: //'), one worker, answering: $body_c"
	reused() { # how many of openssl's 5 reconnects resumed the session
		openssl s_client -connect "127.0.0.1:$1" -reconnect </dev/null 2>/dev/null | grep -c '^Reused'
	}
	say "# TLS resumption check (openssl s_client -reconnect, 5 reconnects): default listener $(reused "$n_tls") resumed, tickets/cache off $(reused "$n_full") resumed"
fi

# ------------------------------------------------------------ the rows
c_env() { echo WRK_METHOD=POST "WRK_BODY=$fn_params" "PARSE_APP_ID=$1" "PARSE_REST_KEY=$2"; }
a_env() { echo "PARSE_APP_ID=$1" "PARSE_REST_KEY=$2" "PARSE_SESSION=$3"; }
say ""
if want nginx; then
	# the same request bytes as mist's and Parse's case C
	e=(WRK_METHOD=POST "WRK_BODY=$fn_params" PARSE_APP_ID=benchapp PARSE_REST_KEY=none)
	idle nginx nginx 127.0.0.1 "$n_http" /
	row nginx.C.http.ka nginx "http://127.0.0.1:$n_http/parse/functions/hello" "${e[@]}"
	row nginx.C.http.close nginx "http://127.0.0.1:$n_http/parse/functions/hello" "${e[@]}" WRK_CLOSE=1
	row nginx.C.https.ka nginx "https://127.0.0.1:$n_tls/parse/functions/hello" "${e[@]}"
	row nginx.C.https.close nginx "https://127.0.0.1:$n_tls/parse/functions/hello" "${e[@]}" WRK_CLOSE=1
	row nginx.C.httpsfull.close nginx "https://127.0.0.1:$n_full/parse/functions/hello" "${e[@]}" WRK_CLOSE=1
	# after the rows: the memory OpenSSL frees stays in the process
	idle nginx.tls nginx 127.0.0.1 "$n_full" / --tls
	kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null; nginx_pid=""
fi
if want parse; then
	e=(WRK_METHOD=POST "WRK_BODY=$fn_params" "PARSE_APP_ID=$parse_app" "PARSE_REST_KEY=$parse_rest")
	a=("PARSE_APP_ID=$parse_app" "PARSE_REST_KEY=$parse_rest" "PARSE_SESSION=$P_TOKEN")
	port=${parse_url#http://127.0.0.1:}; port=${port%%/*}
	idle parse parse 127.0.0.1 "$port" /parse/health
	row parse.C.http.ka parse "$parse_url/functions/hello" "${e[@]}"
	row parse.C.http.close parse "$parse_url/functions/hello" "${e[@]}" WRK_CLOSE=1
	row parse.A.http.ka parse "$parse_url/classes/Item/$P_ITEM" "${a[@]}"
	row parse.A.http.close parse "$parse_url/classes/Item/$P_ITEM" "${a[@]}" WRK_CLOSE=1
	row parse.B.http.ka parse "$parse_url/functions/read1" "${a[@]}" WRK_METHOD=POST "WRK_BODY={\"id\":\"$P_ITEM\"}"
	row parse.B.http.close parse "$parse_url/functions/read1" "${a[@]}" WRK_METHOD=POST "WRK_BODY={\"id\":\"$P_ITEM\"}" WRK_CLOSE=1
	mapfile -t pgs < <(pg_procs)
	pg_pss=$(pss_kib "${pgs[@]}")
	peers_stop
fi
if want mist; then
	e=(WRK_METHOD=POST "WRK_BODY=$fn_params" "PARSE_APP_ID=$m_app" "PARSE_REST_KEY=$m_rest")
	a=("PARSE_APP_ID=$m_app" "PARSE_REST_KEY=$m_rest" "PARSE_SESSION=$M_TOKEN")
	p=${mist_url#http://}; p=${p%%/*}
	idle mist mist "${p%:*}" "${p##*:}" /parse/health
	row mist.C.http.ka mist "$mist_url/functions/$mist_fn" "${e[@]}"
	row mist.C.http.close mist "$mist_url/functions/$mist_fn" "${e[@]}" WRK_CLOSE=1
	row mist.A.http.ka mist "$mist_url/classes/Item/$M_ITEM" "${a[@]}"
	row mist.A.http.close mist "$mist_url/classes/Item/$M_ITEM" "${a[@]}" WRK_CLOSE=1
	if [ -n "$mist_b_fn" ]; then
		# B beside C, alternating, so both meet the same machine
		row mist.B.http.ka mist "$mist_url/functions/$mist_b_fn" "${a[@]}" WRK_METHOD=POST "WRK_BODY={\"id\":\"$M_ITEM\"}"
		row mist.C.http.ka.2 mist "$mist_url/functions/$mist_fn" "${e[@]}"
		row mist.B.http.ka.2 mist "$mist_url/functions/$mist_b_fn" "${a[@]}" WRK_METHOD=POST "WRK_BODY={\"id\":\"$M_ITEM\"}"
		row mist.B.http.close mist "$mist_url/functions/$mist_b_fn" "${a[@]}" WRK_METHOD=POST "WRK_BODY={\"id\":\"$M_ITEM\"}" WRK_CLOSE=1
		for i in $(seq "$pairs_n"); do
			runs=1 warmup=0 row "mist.C.pair.$i" mist "$mist_url/functions/$mist_fn" "${e[@]}"
			runs=1 warmup=0 row "mist.B.pair.$i" mist "$mist_url/functions/$mist_b_fn" "${a[@]}" WRK_METHOD=POST "WRK_BODY={\"id\":\"$M_ITEM\"}"
		done
	else
		say "# mist: MIST_B_FN not set: case B rows skipped"
	fi
	if [ -n "$mist_https" ]; then
		row mist.C.https.ka mist "$mist_https/functions/$mist_fn" "${e[@]}"
		row mist.C.https.close mist "$mist_https/functions/$mist_fn" "${e[@]}" WRK_CLOSE=1
		row mist.A.https.close mist "$mist_https/classes/Item/$M_ITEM" "${a[@]}" WRK_CLOSE=1
		p=${mist_https#https://}; p=${p%%/*}
		say "# mist TLS resumption check: $(openssl s_client -connect "$p" -reconnect </dev/null 2>/dev/null | grep -c '^Reused') of 5 reconnects resumed"
		idle mist.tls mist "${p%:*}" "${p##*:}" /parse/health --tls
	else
		say "# mist: no HTTPS listener (no --https or no DATA/https.addr): HTTPS rows skipped"
	fi
fi

# ------------------------------------------------------------ the table
say ""
say "Mobile backend, Table 2 cases; wrk -t$threads -c$conns -d${dur}s, median of $runs; $(nproc) cores shared by wrk and the server; load average at the end $(loadavg)"
printf '%-24s %8s %7s %7s %10s %8s  %-20s %s\n' row "req/s" "p50 ms" "p99 ms" "CPU us/req" "RSS KiB" "runs, req/s" note
for k in "${rows[@]}"; do
	printf '%-24s %8s %7s %7s %10s %8s  %-20s %s\n' "$k" "${R_RPS[$k]:--}" "${R_P50[$k]:--}" "${R_P99[$k]:--}" \
		"${R_CPU[$k]:--}" "${R_RSS[$k]:--}" "${R_RUNS[$k]:--}" "${R_NOTE[$k]:-}"
done
[ -n "${pg_pss:-}" ] && say "(Parse's RSS is its node process; its PostgreSQL cluster's PSS after the rows: $pg_pss KiB)"
say "(ka: keep-alive; close: Connection: close; httpsfull: nginx with session tickets and cache off, a full TLS handshake per request)"

if [ "$idle_n" -gt 0 ]; then
	say ""
	printf '%-10s %9s %7s %12s %11s  %s\n' server "RSS KiB" "idle" "RSS with KiB" "bytes/conn" note
	for s in "${idles[@]}"; do
		per=$( [ -n "${I_AFTER[$s]:-}" ] && awk -v a="${I_BEFORE[$s]}" -v b="${I_AFTER[$s]}" -v n="${I_OPEN[$s]}" \
			'BEGIN { printf "%d", (b - a) * 1024 / n }')
		printf '%-10s %9s %7s %12s %11s  %s\n' "$s" "${I_BEFORE[$s]:--}" "${I_OPEN[$s]:--}" "${I_AFTER[$s]:--}" \
			"${per:--}" "${I_NOTE[$s]:-}"
	done
fi

ratio() { # A/B of two rows' req/s
	local x=${R_RPS[$1]:-} y=${R_RPS[$2]:-}
	[ -n "$x" ] && [ -n "$y" ] || { echo "-"; return; }
	case "${R_NOTE[$1]:-}${R_NOTE[$2]:-}" in *INVALID*) echo "- (invalid row)"; return ;; esac
	awk -v a="$x" -v b="$y" 'BEGIN { printf "%.2fx", a / b }'
}
# pairs_median ARRAY INVERT: the median over the PAIRS pairs of B/C (of
# C/B with INVERT 1: CPU per request, less is faster), and the pairs'
pairs_median() {
	local -n v=$1
	local i l=()
	[ "$pairs_n" -gt 0 ] || { echo "-"; return; }
	for i in $(seq "$pairs_n"); do
		[ -n "${v[mist.B.pair.$i]:-}" ] && [ -n "${v[mist.C.pair.$i]:-}" ] || continue
		l+=("$(awk -v b="${v[mist.B.pair.$i]}" -v c="${v[mist.C.pair.$i]}" -v inv="$2" \
			'BEGIN { printf "%.2f", inv ? c / b : b / c }')")
	done
	[ "${#l[@]}" -gt 0 ] || { echo "-"; return; }
	printf '%s\n' "${l[@]}" | sort -n | awk '{ a[NR] = $1 } END {
		m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		printf "%.2fx (", m; for (i = 1; i <= NR; i++) printf "%s%s", a[i], i < NR ? " " : ")" }'
}
say ""
say "ratios of requests/s (targets from the design: mist C >= 0.8x nginx; mist A and B >= 0.8x mist C; mist >= 20x Parse; mist HTTPS close >= 0.5x nginx HTTP close)"
printf '  %-52s %s\n' \
	"mist/nginx, C, HTTP keep-alive" "$(ratio mist.C.http.ka nginx.C.http.ka)" \
	"mist/nginx, C, HTTP close" "$(ratio mist.C.http.close nginx.C.http.close)" \
	"mist/nginx, C, HTTPS keep-alive" "$(ratio mist.C.https.ka nginx.C.https.ka)" \
	"mist/nginx full handshake, C, HTTPS close" "$(ratio mist.C.https.close nginx.C.httpsfull.close)" \
	"mist/nginx resumed, C, HTTPS close" "$(ratio mist.C.https.close nginx.C.https.close)" \
	"mist HTTPS close / nginx HTTP close, C" "$(ratio mist.C.https.close nginx.C.http.close)" \
	"mist A/C, keep-alive" "$(ratio mist.A.http.ka mist.C.http.ka)" \
	"mist A/C, close" "$(ratio mist.A.http.close mist.C.http.close)" \
	"mist B/C, keep-alive" "$(ratio mist.B.http.ka mist.C.http.ka)" \
	"mist B/C, keep-alive, second pair" "$(ratio mist.B.http.ka.2 mist.C.http.ka.2)" \
	"mist B/C, close" "$(ratio mist.B.http.close mist.C.http.close)" \
	"mist/Parse, C, keep-alive" "$(ratio mist.C.http.ka parse.C.http.ka)" \
	"mist/Parse, C, close" "$(ratio mist.C.http.close parse.C.http.close)" \
	"mist/Parse, A, keep-alive" "$(ratio mist.A.http.ka parse.A.http.ka)" \
	"mist/Parse, A, close" "$(ratio mist.A.http.close parse.A.http.close)" \
	"Parse A/C, keep-alive" "$(ratio parse.A.http.ka parse.C.http.ka)" \
	"Parse A/C, close" "$(ratio parse.A.http.close parse.C.http.close)" \
	"mist B/C, keep-alive, median of $pairs_n pairs" "$(pairs_median R_RPS 0)" \
	"mist B/C, keep-alive, the same by CPU per request" "$(pairs_median R_CPU 1)" \
	"Parse B/C, keep-alive" "$(ratio parse.B.http.ka parse.C.http.ka)" \
	"mist/Parse, B, keep-alive" "$(ratio mist.B.http.ka parse.B.http.ka)" \
	"mist/Parse, B, close" "$(ratio mist.B.http.close parse.B.http.close)" \
	"nginx/Parse, C, keep-alive" "$(ratio nginx.C.http.ka parse.C.http.ka)" \
	"nginx/Parse, C, close" "$(ratio nginx.C.http.close parse.C.http.close)" \
	"nginx HTTPS full handshake close / HTTP close" "$(ratio nginx.C.httpsfull.close nginx.C.http.close)" \
	"nginx HTTPS resumed close / HTTP close" "$(ratio nginx.C.https.close nginx.C.http.close)"
