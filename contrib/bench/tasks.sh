#!/bin/bash
# Empty-task throughput through libmist, with one agent and with three on
# this machine, and the runtime's CPU per task (agents + executors, from
# /proc, divided by the tasks).  Usage: contrib/bench/tasks.sh [COUNT]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
count=${1:-200000}
b="$root/_build"
mist="$b/src/cmd/mist"
plugin="$b/tests/plugins/.libs/testfns.so"
(cd "$b" && make -j2 >/dev/null && make tests/plugins/testfns.la >/dev/null)
work=$(mktemp -d /tmp/mist-bench.XXXXXX)
pids=()
. "$root/contrib/bench/cluster.sh"
trap 'cluster_stop; rm -rf "$work"' EXIT
for n in 1 3; do
	cluster_start "$n" "$plugin"
	before=$(cluster_cpu_ns)
	out=$("$b/examples/emptytasks" --gateway "$gateway" --cred "$work/cred" --count "$count")
	after=$(cluster_cpu_ns)
	echo "$n agent(s): $out; runtime CPU per task" \
		"$(echo "scale=2; ($after - $before) / 1000 / $count" | bc) us"
done
