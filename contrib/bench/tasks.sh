#!/bin/bash
# Empty-task throughput through libmist, with one agent and with three on
# this machine, and the runtime's CPU per task (agents + executors, from
# /proc, divided by the tasks).  Usage: contrib/bench/tasks.sh [COUNT]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
count=${1:-100000}
b="$root/_build"
mist="$b/src/cmd/mist"
plugin="$b/tests/plugins/.libs/testfns.so"
(cd "$b" && make -j2 >/dev/null && make tests/plugins/testfns.la >/dev/null)
work=$(mktemp -d /tmp/mist-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$mist" keygen > "$work/key"
cpu_ticks() { # total utime+stime of the agents and their children (executors)
	local t=0
	for p in "${pids[@]}"; do
		for q in $p $(pgrep -P "$p" || true); do
			set -- $(cut -d' ' -f14-17 "/proc/$q/stat")
			t=$((t + $1 + $2))
		done
	done
	echo $t
}
run() { # n agents
	local n=$1 i
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pids=()
	for i in $(seq 1 "$n"); do
		local join=()
		[ "$i" -gt 1 ] && join=(--join "$(cat "$work/a1-$n/agent.addr")")
		"$mist" agent --data "$work/a$i-$n" --key "$work/key" --bind "127.0.0.$i:0" \
			--name "a$i" --plugin "$plugin" "${join[@]}" --log-level warn &
		pids+=($!)
		for _ in $(seq 100); do [ -s "$work/a$i-$n/gateway.addr" ] && break; sleep 0.1; done
	done
	sleep 2
	"$mist" creds create --name bench --agent "$(cat "$work/a1-$n/agent.addr")" --key "$work/key" > "$work/cred"
	local before after out
	before=$(cpu_ticks)
	out=$("$b/examples/emptytasks" --gateway "$(cat "$work/a1-$n/gateway.addr")" --cred "$work/cred" --count "$count")
	after=$(cpu_ticks)
	local hz; hz=$(getconf CLK_TCK)
	echo "$n agent(s): $out; runtime CPU per task $(echo "scale=2; ($after - $before) * 1000000 / $hz / $count" | bc) us"
}
run 1
run 3
