# Sourced by the job benchmarks: start N local agents that join through the
# first, and read the CPU time (ns, from /proc/PID/schedstat) they (and their executors) have used.
# Needs $mist, $work and the array pids; sets pids and gateway, writes
# $work/key and $work/cred.
cluster_stop() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pids=()
}
cluster_start() { # n plugin [agent options...]
	local n=$1 plugin=$2 i join
	shift 2
	cluster_stop
	[ -s "$work/key" ] || "$mist" keygen > "$work/key"
	for i in $(seq 1 "$n"); do
		join=()
		[ "$i" -gt 1 ] && join=(--join "$(cat "$work/a1-$n/agent.addr")")
		"$mist" agent --data "$work/a$i-$n" --key "$work/key" --bind "127.0.0.$i:0" \
			--name "a$i" --plugin "$plugin" "${join[@]}" --log-level warn "$@" &
		pids+=($!)
		for _ in $(seq 100); do [ -s "$work/a$i-$n/gateway.addr" ] && break; sleep 0.1; done
	done
	sleep 2 # every agent sees the others
	"$mist" creds create --name bench --agent "$(cat "$work/a1-$n/agent.addr")" \
		--key "$work/key" > "$work/cred"
	gateway=$(cat "$work/a1-$n/gateway.addr")
}
cpu_ns() { # CPU time of the processes PID..., in ns
	local t=0 q
	for q in "$@"; do t=$((t + $(cut -d' ' -f1 "/proc/$q/schedstat"))); done
	echo $t
}
cluster_executors() { # the agents' children
	local p
	for p in "${pids[@]}"; do pgrep -P "$p" || true; done
}
cluster_cpu_ns() { # the agents and their executors
	cpu_ns "${pids[@]}" $(cluster_executors)
}
