#!/bin/sh
# test_partition.sh -- jobs across real network partitions (issue 12): four
# agents, each in a network namespace of its own made here, on a bridge in
# a fifth; nftables rules inside an agent's namespace cut it off, one way or
# both, while a DAG job runs (examples/dagjob: it checks the value it gets
# against its own and that the owner counts every task done once, none
# failed); then the cut heals.  Nothing outside the namespaces this test
# creates is touched, and they are deleted at exit.
#
# From `make check` (SH_LOG_COMPILER gives MIST_BUILDDIR, MIST_SRCDIR and
# MIST_BIN).  Skipped, saying why, without root, `ip netns` or `nft`
# (contrib/deps.sh installs nftables).  TAP: one line per scenario.
set -u

skip_all() { echo "1..0 # SKIP $1"; exit 0; }
: "${MIST_BIN:?MIST_BIN must name the mist binary}"
: "${MIST_BUILDDIR:?MIST_BUILDDIR must name the build tree}"
plugin=$MIST_BUILDDIR/tests/plugins/.libs/testfns.so
dagjob=$MIST_BUILDDIR/examples/dagjob
[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || skip_all "no ip (iproute2)"
command -v nft >/dev/null 2>&1 || skip_all "no nft (contrib/deps.sh installs nftables)"
[ -f "$plugin" ] || skip_all "no test plugin at $plugin"
[ -x "$dagjob" ] || skip_all "no $dagjob"

tag=mp$$
hub=$tag-hub
net=10.201.$(($$ % 200 + 20))
ip netns add "$hub" 2>/dev/null || skip_all "cannot create a network namespace"
work=$(mktemp -d "${TMPDIR:-/tmp}/mist-partition.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	for i in 1 2 3 4; do ip netns del "$tag-a$i" 2>/dev/null; done
	ip netns del "$hub" 2>/dev/null
	if [ -n "${MIST_KEEP:-}" ]; then echo "# kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

inns() { _ns=$1; shift; ip netns exec "$_ns" "$@"; }
inns "$hub" ip link add br0 type bridge || skip_all "no bridge in a namespace"
inns "$hub" ip link set br0 up
for i in 1 2 3 4; do
	ns=$tag-a$i
	ip netns add "$ns"
	# made inside the hub and one end moved: the host's own namespace is
	# never touched
	inns "$hub" ip link add "h$i" type veth peer name "p$i"
	inns "$hub" ip link set "p$i" netns "$ns"
	inns "$ns" ip link set "p$i" name eth0
	inns "$hub" ip link set "h$i" master br0 up
	inns "$ns" ip addr add "$net.$i/24" dev eth0
	inns "$ns" ip link set eth0 up
	inns "$ns" ip link set lo up
	inns "$ns" nft add table inet mist
	inns "$ns" nft add chain inet mist in '{ type filter hook input priority 0; }'
	inns "$ns" nft add chain inet mist out '{ type filter hook output priority 0; }'
done

"$MIST_BIN" keygen >"$work/key"
start() { # i [join]
	i=$1
	join=""
	[ "$i" -gt 1 ] && join="--join $(cat "$work/a1/agent.addr")"
	plug="--plugin $plugin"
	[ "$i" -eq 1 ] && plug=""
	# shellcheck disable=SC2086
	inns "$tag-a$i" "$MIST_BIN" agent --data "$work/a$i" --key "$work/key" \
		--bind "$net.$i:0" --name "a$i" $plug $join --log-level info \
		>>"$work/a$i.log" 2>&1 &
	pids="$pids $!"
	n=0
	while [ ! -s "$work/a$i/gateway.addr" ] && [ $n -lt 300 ]; do n=$((n + 1)); sleep 0.1; done
}
for i in 1 2 3 4; do start "$i"; done
sleep 2
inns "$tag-a1" "$MIST_BIN" creds create --name part --agent "$(cat "$work/a1/agent.addr")" \
	--key "$work/key" >"$work/cred" 2>>"$work/a1.log" || {
	echo "Bail out! creds create failed"; tail -20 "$work/a1.log" | sed 's/^/# /'; exit 1; }

echo "1..4"
# scenario n: rules applied in agent v's namespace for `cut` seconds while
# the job runs, then flushed
# job_start n what owner tasks: a DAG job through agent `owner`'s gateway
# (its client in that agent's namespace), running a second later: the cut
# must fall in the middle of the job, or it shows nothing.  Sets job, t0.
job_start() {
	t0=$(date +%s)
	inns "$tag-a$3" "$dagjob" --gateway "$(cat "$work/a$3/gateway.addr")" \
		--cred "$work/cred" --tasks "$4" --width 6 --timeout-s 180 >"$work/job$1.out" 2>&1 &
	job=$!
	sleep 1
	kill -0 "$job" 2>/dev/null && return 0
	echo "not ok $1 - $2: the job ended before the cut ($(cat "$work/job$1.out"))"
	fail=1
	return 1
}
scenario() { # n what v cut rules...
	n=$1; what=$2; v=$3; cut=$4; shift 4
	job_start "$n" "$what" 1 3000 || return
	for r in "$@"; do
		# shellcheck disable=SC2086
		inns "$tag-a$v" nft add rule inet mist $r
	done
	sleep "$cut"
	during=no
	kill -0 "$job" 2>/dev/null && during=yes
	inns "$tag-a$v" nft flush chain inet mist in
	inns "$tag-a$v" nft flush chain inet mist out
	healed=$(date +%s)
	if wait "$job"; then
		echo "ok $n - $what (the job outlasted the cut: $during; done $(( $(date +%s) - healed )) s after the heal, $(( $(date +%s) - t0 )) s in all): $(cat "$work/job$n.out")"
	else
		echo "not ok $n - $what: $(tail -3 "$work/job$n.out" | tr '\n' ' ')"
		for i in 1 2 3 4; do tail -15 "$work/a$i.log" | sed "s/^/# a$i: /"; done
		fail=1
	fi
}
fail=0
# a worker cut off from everyone, both ways, long enough to be declared dead
scenario 1 "a worker cut off both ways for 10 s, then healed" 3 10 \
	"in ip saddr $net.0/24 drop" "out ip daddr $net.0/24 drop"
# a worker that hears the owner but cannot answer it (one way)
scenario 2 "a worker whose packets to the owner are dropped (one way) for 5 s" 2 5 \
	"out ip daddr $net.1 drop"
# the owner cut off from two of its three workers, both ways
scenario 3 "the owner cut off from two workers for 5 s" 1 5 \
	"in ip saddr { $net.2, $net.3 } drop" "out ip daddr { $net.2, $net.3 } drop"
# paper 003 §4: the owner's device loses its network for longer than the
# job takes.  a2 offers the functions and owns this job (its client in its
# namespace, on its own address: loopback, not cut); cut off from every
# other agent both ways, it must finish the job by itself -- once gossip
# declares the others dead, it runs what is pending and recomputes the
# inputs only they held -- with the right value and every task done once,
# before the cut heals.
scenario_isolated() { # n
	n=$1
	job_start "$n" "an isolated owner" 2 1200 || return
	inns "$tag-a2" nft add rule inet mist in iifname eth0 drop
	inns "$tag-a2" nft add rule inet mist out oifname eth0 drop
	cut=$(date +%s)
	# bounded: the job has 120 s to end while cut off
	k=0
	while kill -0 "$job" 2>/dev/null && [ $k -lt 1200 ]; do k=$((k + 1)); sleep 0.1; done
	during=yes
	kill -0 "$job" 2>/dev/null || during=no
	ended=$(date +%s)
	inns "$tag-a2" nft flush chain inet mist in
	inns "$tag-a2" nft flush chain inet mist out
	if [ "$during" = no ] && wait "$job"; then
		echo "ok $n - the owner cut off from every worker finishes the job itself ($(( ended - cut )) s after the cut, $(( ended - t0 )) s in all): $(cat "$work/job$n.out")"
	else
		[ "$during" = yes ] && { kill "$job" 2>/dev/null; wait "$job"; }
		echo "not ok $n - an isolated owner (still running after 120 s cut off: $during): $(tail -3 "$work/job$n.out" | tr '\n' ' ')"
		for i in 1 2 3 4; do tail -15 "$work/a$i.log" | sed "s/^/# a$i: /"; done
		fail=1
	fi
}
scenario_isolated 4
exit $fail
