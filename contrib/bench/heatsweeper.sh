#!/bin/bash
# HeatSweeper distributed against sequential on the same cores.  The search
# runs in one process (--local), then as mist tasks through libmist: on one
# agent with an executor per core, and on three agents (the quickstart's
# shape; on this machine that is three executor pools sharing the cores).
# Each is run ROUNDS times, alternating, and the best of each is kept: this
# VM's timings vary by 10-20 % from run to run.
#   overhead  = CPU of agents, executors and client - sequential CPU,
#               over sequential CPU (CPU from /proc/PID/schedstat)
#   runtime   = the agents' share alone (what mist itself spends)
# Usage: contrib/bench/heatsweeper.sh [GRID [STEPS [ROUNDS]]]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
grid=${1:-80}
steps=${2:-2000}
rounds=${3:-3}
b="$root/_build"
mist="$b/src/cmd/mist"
hs="$b/examples/heatsweeper/heatsweeper"
plugin="$b/examples/heatsweeper/.libs/heatplugin.so"
(cd "$b" && make -j2 >/dev/null)
work=$(mktemp -d /tmp/mist-bench.XXXXXX)
pids=()
. "$root/contrib/bench/cluster.sh"
trap 'cluster_stop; rm -rf "$work"' EXIT
args=(--sources 2 --grid "$grid" --steps "$steps")
cores=$(nproc)
now() { date +%s%N; }
min() { if [ -z "$1" ] || [ "$2" -lt "$1" ]; then echo "$2"; else echo "$1"; fi; }
# CPU of one child process, in ns: run it in the background, read its
# schedstat while it exits (a zombie keeps its accounting until reaped).
child_ns() { # out command...
	local out=$1 pid t=0
	shift
	"$@" > "$out" 2>/dev/null &
	pid=$!
	while [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
		t=$(cut -d' ' -f1 "/proc/$pid/schedstat" 2>/dev/null || echo "$t")
		sleep 0.005
		[ -e "/proc/$pid" ] || break
	done
	t=$(cut -d' ' -f1 "/proc/$pid/schedstat" 2>/dev/null || echo "$t")
	wait "$pid"
	echo "$t"
}
ms() { echo $(($1 / 1000000)); }
pct() { echo "scale=1; ($1) * 100 / ($2)" | bc; }

seq_wall= seq_cpu=
sequential() {
	local t0 t1 c
	t0=$(now); c=$(child_ns "$work/local.txt" "$hs" --local "${args[@]}"); t1=$(now)
	seq_wall=$(min "$seq_wall" $((t1 - t0))); seq_cpu=$(min "$seq_cpu" "$c")
}
distributed() { # label agent-count agent-options...
	local label=$1 n=$2 wall= cpu= rt= t0 t1 a0 a1 c e0 e1 ex
	shift 2
	cluster_start "$n" "$plugin" "$@"
	for _ in $(seq "$rounds"); do
		sequential
		ex=$(cluster_executors)
		e0=$(cpu_ns $ex)
		a0=$(cluster_cpu_ns); t0=$(now)
		c=$(child_ns "$work/dist.txt" "$hs" --gateway "$gateway" --cred "$work/cred" "${args[@]}")
		t1=$(now); a1=$(cluster_cpu_ns)
		e1=$(cpu_ns $ex)
		cmp -s "$work/local.txt" "$work/dist.txt" || { echo "answers differ"; exit 1; }
		wall=$(min "$wall" $((t1 - t0)))
		cpu=$(min "$cpu" $((a1 - a0 + c)))
		rt=$(min "$rt" $((a1 - a0 - (e1 - e0) + c)))
	done
	results+=("$label" "$wall" "$cpu" "$rt")
}
results=()
distributed "1 agent, $cores executors" 1 --executors "$cores"
distributed "3 agents, $cores executors each" 3
cat "$work/dist.txt"
echo "sequential: $(ms "$seq_wall") ms wall, $(ms "$seq_cpu") ms CPU (best of $((2 * rounds)))"
set -- "${results[@]}"
while [ $# -gt 0 ]; do
	echo "$1: $(ms "$2") ms wall, $(ms "$3") ms CPU;" \
		"overhead $(pct "$3 - $seq_cpu" "$seq_cpu") % (runtime alone $(pct "$4" "$seq_cpu") %);" \
		"parallel efficiency $(pct "$seq_wall" "$2 * $cores") %"
	shift 4
done
