#!/bin/bash
# Real-process chaos for jobs (issue 12): for each seed, four agents on
# loopback (a1 the owner and first gateway, a2..a4 workers with the test
# plugin) run a DAG job of their own (examples/dagjob: N slowsum tasks,
# each reading two earlier ones) while the script, seeded, kills workers
# with SIGKILL and restarts them from their data directories -- at once
# (a new boot before anyone suspects the old one) or seconds later -- and
# kills the owner and restarts it from its journal, or kills it for good
# (its standby takes the job over once gossip declares it dead).  The
# client is given every gateway and does nothing by hand: libmist redials
# and resends.  Each seed passes when the client gets the value it
# computes itself and the owner -- old or new -- counts every task done
# exactly once, none failed.
#
#   contrib/chaos/jobs.sh [SEEDS] [TASKS] [FIRST_SEED]
#
# Needs a build in _build (MIST_BUILD overrides).  Prints one line per
# seed and "chaos: N passed, N failed"; exit 1 if any failed.  A failing
# seed's agent logs stay in the printed folder.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
b=${MIST_BUILD:-$root/_build}
seeds=${1:-5}
tasks=${2:-300}
first=${3:-1}
mist="$b/src/cmd/mist"
plugin="$b/tests/plugins/.libs/testfns.so"
dagjob="$b/examples/dagjob"
for f in "$mist" "$plugin" "$dagjob"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "chaos: $f missing (build first)" >&2; exit 2; }
done
passed=0 failed=0

start_agent() { # index
	local i=$1 join=() plug=(--plugin "$plugin")
	local seed=1
	# with the owner gone for good, a restarted worker joins a peer
	if [ "${owner_gone:-0}" -eq 1 ]; then
		for seed in 2 3 4; do [ "$seed" -ne "$i" ] && break; done
	fi
	[ "$i" -gt 1 ] && join=(--join "$(cat "$work/a$seed/agent.addr")")
	[ "$i" -eq 1 ] && plug=()
	local bind="127.0.0.$i:0" gw="127.0.0.$i:0"
	# a restarted agent keeps its ports: peers and the client find it
	[ -s "$work/a$i/agent.addr" ] && bind=$(cat "$work/a$i/agent.addr")
	[ -s "$work/a$i/gateway.addr" ] && gw=$(cat "$work/a$i/gateway.addr")
	rm -f "$work/a$i/gateway.addr"
	"$mist" agent --data "$work/a$i" --key "$work/key" --bind "$bind" \
		--gateway "$gw" --name "a$i" "${plug[@]}" "${join[@]}" \
		--log-level info >>"$work/a$i.log" 2>&1 &
	pid[$i]=$!
	for _ in $(seq 100); do [ -s "$work/a$i/gateway.addr" ] && break; sleep 0.05; done
}

stop_all() {
	local i
	for i in 1 2 3 4; do [ -n "${pid[$i]:-}" ] && kill "${pid[$i]}" 2>/dev/null; done
	wait 2>/dev/null
}

for s in $(seq "$first" $((first + seeds - 1))); do
	RANDOM=$s
	work=$(mktemp -d /tmp/mist-chaos.XXXXXX)
	declare -A pid=()
	owner_gone=0
	"$mist" keygen >"$work/key"
	for i in 1 2 3 4; do start_agent "$i"; done
	sleep 1.5
	"$mist" creds create --name chaos --agent "$(cat "$work/a1/agent.addr")" \
		--key "$work/key" >"$work/cred" 2>>"$work/a1.log"
	gws="$(cat "$work/a1/gateway.addr"),$(cat "$work/a2/gateway.addr")"
	gws="$gws,$(cat "$work/a3/gateway.addr"),$(cat "$work/a4/gateway.addr")"
	"$dagjob" --gateway "$gws" --cred "$work/cred" --tasks "$tasks" --width 4 \
		--timeout-s 240 >"$work/client.out" 2>&1 &
	client=$!
	faults=()
	# faults while the job runs: a kill every 0.3..1.5 s, at most 8
	for f in $(seq 8); do
		sleep "0.$((3 + RANDOM % 9))"
		kill -0 "$client" 2>/dev/null || break
		v=$((1 + RANDOM % 4))
		# the owner killed for good: later faults hit workers
		[ "$v" -eq 1 ] && [ "$owner_gone" -eq 1 ] && v=$((2 + RANDOM % 3))
		case $((RANDOM % 5)) in
		0) # quick restart (a new boot, before any suspicion)
			kill -KILL "${pid[$v]}" 2>/dev/null; wait "${pid[$v]}" 2>/dev/null
			sleep "0.$((RANDOM % 5))"
			start_agent "$v"; faults+=("a$v:quick") ;;
		1) # killed, back after a few seconds
			kill -KILL "${pid[$v]}" 2>/dev/null; wait "${pid[$v]}" 2>/dev/null
			sleep $((2 + RANDOM % 4))
			start_agent "$v"; faults+=("a$v:slow") ;;
		4) # the owner killed for good (once): its standby takes over
			if [ "$owner_gone" -eq 0 ]; then
				kill -KILL "${pid[1]}" 2>/dev/null; wait "${pid[1]}" 2>/dev/null
				unset 'pid[1]'
				owner_gone=1; faults+=("a1:gone")
			fi ;;
		*) # a worker killed and restarted at once
			[ "$v" -eq 1 ] && v=$((2 + RANDOM % 3))
			kill -KILL "${pid[$v]}" 2>/dev/null; wait "${pid[$v]}" 2>/dev/null
			start_agent "$v"; faults+=("a$v:quick") ;;
		esac
	done
	wait "$client"
	rc=$?
	stop_all
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "chaos seed $s: ok -- ${faults[*]:-no faults}; $(cat "$work/client.out")"
		rm -rf "$work"
	else
		failed=$((failed + 1))
		echo "chaos seed $s: FAILED -- ${faults[*]:-no faults}; $(tail -3 "$work/client.out" | tr '\n' ' ') (logs: $work)"
	fi
	unset pid
done
echo "chaos: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
