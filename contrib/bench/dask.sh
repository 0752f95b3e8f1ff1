#!/bin/bash
# Jobs against their peer, Dask distributed (Debian python3-distributed),
# side by side in one run on this machine: the same empty-task workload
# (examples/emptytasks: N no-op tasks, then wait) and the same DAG
# (examples/dagjob --fn sum: task i reads tasks i-W and i/2), with one
# worker and with three.  mist: agents on loopback joined through the
# first (contrib/bench/cluster.sh), each with 2 executors; Dask: a
# LocalCluster of worker processes with 2 threads each.
#
#   contrib/bench/dask.sh [EMPTY_TASKS] [DAG_TASKS]
#
# Prints each measurement and the ratios mist/Dask.  Needs a build in
# _build and python3-distributed (contrib/deps.sh bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
empty=${1:-20000}
dag=${2:-20000}
width=8
b="$root/_build"
mist="$b/src/cmd/mist"
plugin="$b/tests/plugins/.libs/testfns.so"
py=/usr/bin/python3
"$py" -c 'import distributed' 2>/dev/null || {
	echo "dask.sh: python3-distributed missing (contrib/deps.sh bench)" >&2; exit 2; }
(cd "$b" && make -j2 >/dev/null && make tests/plugins/testfns.la >/dev/null)
work=$(mktemp -d /tmp/mist-bench-dask.XXXXXX)
pids=()
. "$root/contrib/bench/cluster.sh"
trap 'cluster_stop; rm -rf "$work"' EXIT
rate() { sed -n 's/.*rate \([0-9.]*\).*/\1/p'; }
secs() { sed -n 's/.*seconds \([0-9.]*\).*/\1/p'; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in 1 3; do
	# the agents: a1 owns the jobs (no plugin when workers run apart, as
	# Dask's scheduler runs apart from its workers), a2.. are the workers
	cluster_start "$((n + 1))" "$plugin"
	me=$("$b/examples/emptytasks" --gateway "$gateway" --cred "$work/cred" --count "$empty")
	md=$("$b/examples/dagjob" --gateway "$gateway" --cred "$work/cred" --tasks "$dag" \
		--width $width --fn sum --timeout-s 600)
	cluster_stop
	de=$("$py" "$root/contrib/bench/dask/bench.py" empty "$empty" "$n" 2>/dev/null)
	dd=$("$py" "$root/contrib/bench/dask/bench.py" dag "$dag" $width "$n" 2>/dev/null)
	mr=$(echo "$me" | rate); dr=$(echo "$de" | rate)
	ms=$(echo "$md" | secs); ds=$(echo "$dd" | secs)
	echo "$n worker(s), empty tasks: mist $me"
	echo "$n worker(s), empty tasks: $de"
	echo "$n worker(s), empty tasks: mist/dask $(echo "scale=1; $mr / $dr" | bc)x"
	echo "$n worker(s), DAG of $dag (width $width): mist $md"
	echo "$n worker(s), DAG of $dag (width $width): $dd"
	echo "$n worker(s), DAG: dask/mist time $(echo "scale=1; $ds / $ms" | bc)x"
done
