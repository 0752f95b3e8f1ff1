#!/bin/bash
# What a loss costs a job (issue 12): the same DAG job (examples/dagjob,
# slowsum tasks of 20 ms, W chains side by side) on an owner and three
# workers, run clean, then with one worker SIGKILLed half-way (for good),
# with a worker SIGKILLed and restarted at once (a new boot), and with the
# owner SIGKILLed and restarted from its journal (the client reattaches).
# Each row: the job's time, its excess over the clean run, and the bound
# the issue sets -- detection + 1.2 x the lost work, where the lost work is
# what the owner redid: the attempts it placed again and the done tasks it
# ran again because their values were lost (its JOB_STATUS "recoveries":
# failed_over + recomputed), each a 20 ms task -- shown beside the most a
# loss could need (the victim's done tasks; with checkpoints, two
# partitions; a restarted owner, which counts from its replay on: the
# attempts in flight and one journal tick of completions) -- and
# detection is the
# time to notice (a death: SWIM's suspicion, from the agent logs; a new
# boot or a restarted owner: the restart itself, kill to its gateway up
# again; the owner's verdict on
# the victim, from its log: "is dead", or before that "is suspected and
# did not answer" the lease).
#
# The bound counts recovery, not capacity: each worker runs EXECUTORS
# executors (default: half the width, rounded up), so that two workers
# still run every chain at once and a worker lost for good costs the
# second half no speed.  With a third of the width each (EXECUTORS=2 at
# width 6), the survivors run 6 chains on 4 executors: the second half
# takes 1.5 x as long, which no recovery can win back.
#
# Then the checkpoint rows (issue 12, item 5): the clean run again with
# checkpoints every K tasks (their cost: the excess over the clean run),
# and a worker killed half-way with them.  Its bound: the clean run with
# checkpoints + detection + 1.2 x what a loss may re-run -- at most the
# partitions not yet checkpointed (the one being filled and the one
# whose copies are in flight: 2 x K tasks of 20 ms, taken as run one
# after the other) -- instead of the victim's whole share.
#
#   contrib/bench/recovery.sh [TASKS] [WIDTH] [K]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tasks=${1:-3000}
width=${2:-6}
every=${3:-100}
execs=${EXECUTORS:-$(( (width + 1) / 2 ))}
ckpt=0 # the run's --checkpoint
b=${MIST_BUILD:-$root/_build}
mist="$b/src/cmd/mist"
plugin="$b/tests/plugins/.libs/testfns.so"
(cd "$b" && make -j2 >/dev/null && make tests/plugins/testfns.la examples/dagjob >/dev/null)
declare -A pid=()
work=""
start_agent() { # index
	local i=$1 join=() plug=(--plugin "$plugin" --executors "$execs") bind="127.0.0.$i:0" gw="127.0.0.$i:0"
	[ "$i" -gt 1 ] && join=(--join "$(cat "$work/a1/agent.addr")")
	[ "$i" -eq 1 ] && plug=()
	[ -s "$work/a$i/agent.addr" ] && bind=$(cat "$work/a$i/agent.addr")
	[ -s "$work/a$i/gateway.addr" ] && gw=$(cat "$work/a$i/gateway.addr")
	rm -f "$work/a$i/gateway.addr"
	"$mist" agent --data "$work/a$i" --key "$work/key" --bind "$bind" --gateway "$gw" \
		--name "a$i" "${plug[@]}" "${join[@]}" --log-level info >>"$work/a$i.log" 2>&1 &
	pid[$i]=$!
	for _ in $(seq 100); do [ -s "$work/a$i/gateway.addr" ] && break; sleep 0.05; done
}
stop_all() {
	local i
	for i in 1 2 3 4; do [ -n "${pid[$i]:-}" ] && kill "${pid[$i]}" 2>/dev/null; done
	wait 2>/dev/null; pid=()
}
trap 'stop_all; [ -n "$work" ] && rm -rf "$work"' EXIT
now() { date +%s.%N; }
# tasks the owner's status credits to agent aN (the dagjob job, `mist
# status --here` of a1: the live job, or the ended one it still lists)
done_on() {
	"$mist" status --agent "$(cat "$work/a1/agent.addr")" --key "$work/key" --here \
		--format json 2>/dev/null |
		grep -o "\"name\":\"a$1\",\"tier\":\"[a-z]*\",\"running\":[0-9]*,\"done\":[0-9]*" |
		head -1 | sed 's/.*"done"://'
}
# what the owner redid: "failed_over recomputed" of the job's recoveries
redone() {
	local j
	j=$("$mist" status --agent "$(cat "$work/a1/agent.addr")" --key "$work/key" --here \
		--format json 2>/dev/null | grep -o '"recoveries":{[^}]*}' | head -1)
	echo "$(echo "$j" | grep -o '"failed_over":[0-9]*' | cut -d: -f2) $(echo "$j" | grep -o '"recomputed":[0-9]*' | cut -d: -f2)"
}
task_s=0.020 # slowsum's 20 ms
# run WHAT VICTIM MODE: MODE clean | kill | quick | owner; prints seconds
run() {
	local what=$1 v=$2 mode=$3
	work=$(mktemp -d /tmp/mist-recovery.XXXXXX)
	"$mist" keygen >"$work/key"
	for i in 1 2 3 4; do start_agent "$i"; done
	sleep 1.5
	"$mist" creds create --name rec --agent "$(cat "$work/a1/agent.addr")" --key "$work/key" \
		>"$work/cred" 2>/dev/null
	local gws t0 t1 tk="" tup="" before=""
	gws="$(cat "$work/a1/gateway.addr"),$(cat "$work/a2/gateway.addr")"
	t0=$(now)
	"$b/examples/dagjob" --gateway "$gws" --cred "$work/cred" --tasks "$tasks" \
		--width "$width" --timeout-s 600 --checkpoint "$ckpt" >"$work/out" 2>&1 &
	local client=$!
	if [ "$mode" != clean ]; then
		sleep "$(echo "$clean / 2" | bc -l)"
		[ "$mode" = kill ] && before=$(done_on "$v")
		tk=$(now)
		kill -KILL "${pid[$v]}"; wait "${pid[$v]}" 2>/dev/null
		case $mode in
		quick|owner) start_agent "$v"; tup=$(now) ;;
		esac
	fi
	wait "$client"; local rc=$?
	t1=$(now)
	# the victim's tasks run again: those it had done, less those the
	# owner still credits it with (a value recomputed moves its task)
	local again="" ck=""
	[ "$mode" = kill ] && again="$(( ${before:-0} - $(done_on "$v" || echo 0) )) of ${before:-?}"
	# the job's checkpoint counters, as the owner's status ends them
	[ "$ckpt" -gt 0 ] && ck=$("$mist" status --agent "$(cat "$work/a1/agent.addr")" \
		--key "$work/key" --here --format json 2>/dev/null |
		grep -o '"checkpoints":{[^}]*}' | head -1)
	local took dead=""
	took=$(echo "$t1 - $t0" | bc -l)
	if [ "$mode" = kill ]; then
		# when the owner learnt of the death (its log), after the kill
		local at
		at=$(grep -m1 -E "a$v .* is dead|a$v .* is suspected and did not answer" \
			"$work/a1.log" | cut -d' ' -f1)
		[ -n "$at" ] && dead=$(echo "$(date -d "$at" +%s.%N) - $tk" | bc -l)
	elif [ -n "$tup" ]; then
		# a restart: the time the agent was away, kill to its gateway up
		# again (the new boot is seen as it joins; libmist redials)
		dead=$(echo "$tup - $tk" | bc -l)
	fi
	local rd
	rd=$(redone)
	echo "$what|$rc|$took|${dead:-0}|$(tail -1 "$work/out")|${again:-}|${ck:-}|$rd"
	stop_all; rm -rf "$work"; work=""
}
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $tasks tasks, width $width, $execs executors per worker, checkpoints every $every"
line=$(run clean 0 clean); clean=$(echo "$line" | cut -d'|' -f3)
printf '%-34s %8.2f s\n' "clean" "$clean"
for spec in "worker killed half-way|3|kill" "worker restarted at once|3|quick" \
	"owner killed and restarted|1|owner"; do
	IFS='|' read -r what v mode <<<"$spec"
	line=$(run "$what" "$v" "$mode")
	rc=$(echo "$line" | cut -d'|' -f2); took=$(echo "$line" | cut -d'|' -f3)
	dead=$(echo "$line" | cut -d'|' -f4)
	again=$(echo "$line" | cut -d'|' -f6)
	read -r fo rc2 <<<"$(echo "$line" | cut -d'|' -f8)"
	lost=$(echo "(${fo:-0} + ${rc2:-0}) * $task_s" | bc -l)
	# a restarted owner counts from its replay on: what it lost is not
	# in its counters -- the attempts in flight at the kill (one per
	# chain) and the completions of one journal tick (DATA_TICK_MS,
	# 100 ms), which run again: the design's most, taken as the lost work
	[ "$mode" = owner ] && lost=$(echo "$width * ($task_s + 0.100)" | bc -l)
	bound=$(echo "$clean + $dead + 1.2 * $lost" | bc -l)
	verdict=$([ "$rc" -eq 0 ] && echo "right" || echo "WRONG")
	met=$(echo "$took <= $bound" | bc -l)
	printf '%-34s %8.2f s  excess %6.2f s  detection %5.2f s  lost %5.2f s (%s failed over, %s recomputed)  bound %6.2f s  %s  (%s)%s\n' \
		"$what" "$took" "$(echo "$took - $clean" | bc -l)" "$dead" "$lost" "${fo:-0}" "${rc2:-0}" "$bound" \
		"$([ "$met" -eq 1 ] && echo met || echo 'NOT met')" "$verdict" \
		"${again:+  victim tasks run again: $again}"
done
# checkpoints: their cost on the clean run, and a loss with them
ckpt=$every
line=$(run "clean, checkpoints" 0 clean); cclean=$(echo "$line" | cut -d'|' -f3)
printf '%-34s %8.2f s  cost %6.2f s (%.1f %%)  (%s)  %s\n' "clean, checkpoints every $every" \
	"$cclean" "$(echo "$cclean - $clean" | bc -l)" "$(echo "100 * ($cclean - $clean) / $clean" | bc -l)" \
	"$(echo "$line" | cut -d'|' -f5)" "$(echo "$line" | cut -d'|' -f7)"
line=$(clean=$cclean run "worker killed, checkpoints" 3 kill)
rc=$(echo "$line" | cut -d'|' -f2); took=$(echo "$line" | cut -d'|' -f3)
dead=$(echo "$line" | cut -d'|' -f4)
again=$(echo "$line" | cut -d'|' -f6)
read -r fo rc2 <<<"$(echo "$line" | cut -d'|' -f8)"
lost=$(echo "(${fo:-0} + ${rc2:-0}) * $task_s" | bc -l)
bound=$(echo "$cclean + $dead + 1.2 * $lost" | bc -l)
met=$(echo "$took <= $bound" | bc -l)
printf '%-34s %8.2f s  excess %6.2f s  detection %5.2f s  lost %5.2f s (%s failed over, %s recomputed; at most 2 x %s)  bound %6.2f s  %s  (%s)  victim tasks run again: %s  %s\n' \
	"worker killed, checkpoints" "$took" "$(echo "$took - $cclean" | bc -l)" "$dead" "$lost" "${fo:-0}" "${rc2:-0}" "$every" "$bound" \
	"$([ "$met" -eq 1 ] && echo met || echo 'NOT met')" "$([ "$rc" -eq 0 ] && echo right || echo WRONG)" "$again" \
	"$(echo "$line" | cut -d'|' -f7)"
