#!/usr/bin/env bash
# Gossip membership, mist against HashiCorp Serf (Debian package `serf`),
# side by side in one run: 32 agents of each on loopback, both with the
# memberlist LAN profile (probe 1 s, timeout 500 ms, 3 indirect probes,
# suspicion multiplier 4, Lifeguard on), measured the same way:
#   - join: time until every agent lists all 32 alive, all joining one seed;
#   - idle: resident memory and CPU per agent over 20 s;
#   - hog:  false "dead"/"failed" marks of live agents while 2 x nproc busy
#           loops run for 30 s (sampled every second from every agent);
#   - kill: time from SIGKILL of one agent until every other marks it dead
#           (mist) / failed (Serf).
#
#   contrib/bench/gossip_vs_serf.sh [AGENTS]     (default 32)
#
# Prints a table with ratios; docs/BENCHMARKS.md records the latest run.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
n=${1:-32}
victim=7

./contrib/deps.sh bench
command -v serf >/dev/null || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo;
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq serf >/dev/null; }
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p _bench
(cd _bench && { [ -f Makefile ] || ../configure -q --disable-tests; } && make -j"$(nproc)" src/cmd/mist >/dev/null)
mist="$root/_bench/src/cmd/mist"
work=$(mktemp -d /tmp/mist-serf.XXXXXX)
pids=(); hogs=()
cleanup() {
	for p in "${hogs[@]}" "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
# waits (bounded) until the command succeeds; gives up after $2 seconds
wait_for() {
	local cmd=$1 limit=$2 start=$SECONDS
	until eval "$cmd"; do
		if [ $((SECONDS - start)) -ge "$limit" ]; then
			echo "gave up waiting for: $cmd" >&2; exit 1
		fi
		sleep 0.05
	done
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# mean RSS (KiB) and CPU (% of a core) per process of the array named $1,
# after 5 s of settling, CPU over the next 20 s; sets idle_rss, idle_cpu
idle() {
	local -n ps=$1
	local rss=0 cpu0=0 cpu1=0 hz
	hz=$(getconf CLK_TCK)
	sleep 5
	for p in "${ps[@]}"; do
		rss=$((rss + $(awk '/VmRSS/ {print $2}' "/proc/$p/status")))
		cpu0=$((cpu0 + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	sleep 20
	for p in "${ps[@]}"; do cpu1=$((cpu1 + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	idle_rss=$((rss / ${#ps[@]}))
	idle_cpu=$(awk -v c=$((cpu1 - cpu0)) -v hz="$hz" -v n="${#ps[@]}" \
		'BEGIN { printf "%.3f", 100 * c / hz / 20 / n }')
}

# ------------------------------------------------------------------ mist
"$mist" keygen > "$work/key"
maddr=()
mist_members() { "$mist" members --agent "${maddr[$1]}" --key "$work/key" --format json 2>/dev/null; }
mist_alive() { mist_members "$1" | grep -o '"status":"alive"' | wc -l; }
mist_status_of() { mist_members "$1" | grep -o "\"name\":\"m$2\"[^}]*\"status\":\"[a-z]*\"" | grep -o '[a-z]*"$' | tr -d '"'; }
t0=$(now)
for i in $(seq 0 $((n - 1))); do
	# all at once, as for Serf: --join retries until the seed is up
	join=(); [ "$i" -gt 0 ] && join=(--join 127.0.3.1:7946)
	"$mist" agent --data "$work/m$i" --key "$work/key" --bind "127.0.3.$((i + 1)):7946" \
		--name "m$(printf %02d "$i")" --log-level warn "${join[@]}" 2>>"$work/mist.log" &
	pids+=($!); mpid[$i]=$!
	maddr[$i]=127.0.3.$((i + 1)):7946
done
for i in $(seq 0 $((n - 1))); do
	wait_for '[ "$(mist_alive "$i")" = "$n" ]' 120
done
mist_join=$(elapsed "$t0" "$(now)")

idle mpid; mist_rss=$idle_rss; mist_cpu=$idle_cpu

hog() { for _ in $(seq $((2 * $(nproc)))); do (while :; do :; done) & hogs+=($!); done; }
unhog() { for p in "${hogs[@]}"; do kill -9 "$p" 2>/dev/null; done; wait "${hogs[@]}" 2>/dev/null; hogs=(); }
hog
mist_fp=0
for _ in $(seq 30); do
	for i in $(seq 0 $((n - 1))); do
		d=$(mist_members "$i" | grep -o '"status":"dead"' | wc -l)
		mist_fp=$((mist_fp + d))
	done
	sleep 1
done
unhog
sleep 10

t0=$(now)
kill -9 "${mpid[$victim]}"
for i in $(seq 0 $((n - 1))); do
	[ "$i" = "$victim" ] && continue
	wait_for '[ "$(mist_status_of "$i" "$(printf %02d $victim)")" = dead ]' 180
done
mist_detect=$(elapsed "$t0" "$(now)")
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null; pids=()

# ------------------------------------------------------------------ Serf
serf_members() { serf members -rpc-addr="127.0.4.$(($1 + 1)):7373" 2>/dev/null; }
t0=$(now)
for i in $(seq 0 $((n - 1))); do
	join=(); [ "$i" -gt 0 ] && join=(-retry-join=127.0.4.1:7946 -retry-interval=1s)
	serf agent -node="s$(printf %02d "$i")" -bind="127.0.4.$((i + 1)):7946" \
		-rpc-addr="127.0.4.$((i + 1)):7373" -profile=lan -log-level=warn \
		"${join[@]}" >>"$work/serf.log" 2>&1 &
	pids+=($!); spid[$i]=$!
	[ "$i" = 0 ] && wait_for 'serf_members 0 >/dev/null' 30
done
for i in $(seq 0 $((n - 1))); do
	wait_for '[ "$(serf_members "$i" | awk '"'"'$3 == "alive"'"'"' | wc -l)" = "$n" ]' 120
done
serf_join=$(elapsed "$t0" "$(now)")

idle spid; serf_rss=$idle_rss; serf_cpu=$idle_cpu

hog
serf_fp=0
for _ in $(seq 30); do
	for i in $(seq 0 $((n - 1))); do
		d=$(serf_members "$i" | awk '$3 == "failed"' | wc -l)
		serf_fp=$((serf_fp + d))
	done
	sleep 1
done
unhog
sleep 10

t0=$(now)
kill -9 "${spid[$victim]}"
vname=s$(printf %02d $victim)
for i in $(seq 0 $((n - 1))); do
	[ "$i" = "$victim" ] && continue
	wait_for '[ "$(serf_members "$i" | awk -v v="$vname" '"'"'$1 == v {print $3}'"'"')" = failed ]' 180
done
serf_detect=$(elapsed "$t0" "$(now)")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2fx", a / b }'; }
printf '\n%-46s %10s %10s %8s\n' "$n agents on loopback" mist Serf "mist/Serf"
printf '%-46s %10s %10s %8s\n' "join via one seed: all see all, s" "$mist_join" "$serf_join" "$(ratio "$mist_join" "$serf_join")"
printf '%-46s %10s %10s %8s\n' "SIGKILL: all others mark it dead/failed, s" "$mist_detect" "$serf_detect" "$(ratio "$mist_detect" "$serf_detect")"
printf '%-46s %10s %10s %8s\n' "false dead/failed marks, 30 s CPU hog" "$mist_fp" "$serf_fp" "-"
printf '%-46s %10s %10s %8s\n' "idle RSS per agent, KiB" "$mist_rss" "$serf_rss" "$(ratio "$mist_rss" "$serf_rss")"
printf '%-46s %10s %10s %8s\n' "idle CPU per agent, % of a core" "$mist_cpu" "$serf_cpu" "$(ratio "$mist_cpu" "$serf_cpu")"
echo "(join and detection times include the polling of $n agents by their CLIs, the same for both)"
