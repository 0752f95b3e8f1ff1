#!/usr/bin/env bash
# Remote actor messages between two mist agents over their encrypted link,
# against the same exchange between two Erlang/OTP nodes (plaintext
# distribution), side by side on this machine, 100-byte payloads.
#
#   contrib/bench/link_vs_erlang.sh [MESSAGES]      (default 1000000)
#
# Prints a table and the ratios; docs/BENCHMARKS.md records the latest run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
n=${1:-1000000}
size=100
runs=3

./contrib/deps.sh bench
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p _bench
(cd _bench && { [ -f Makefile ] || ../configure -q --disable-tests; } && make -j"$(nproc)" src/cmd/mist >/dev/null)
mist="$root/_bench/src/cmd/mist"
work=$(mktemp -d /tmp/mist-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }

# ---- mist: two agents
"$mist" keygen > "$work/key"
"$mist" agent --data "$work/a" --key "$work/key" --bind 127.0.0.1:0 --name a --log-level warn &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/a/agent.addr" ] && break; sleep 0.1; done
a=$(cat "$work/a/agent.addr")
"$mist" agent --data "$work/b" --key "$work/key" --bind 127.0.0.2:0 --name b --log-level warn --join "$a" &
pids+=($!)
for _ in $(seq 100); do
	"$mist" members --agent "$a" --key "$work/key" --format json 2>/dev/null | grep -q '"name":"b"' && break
	sleep 0.1
done

"$mist" ping --agent "$a" --key "$work/key" --flood --count 10000 --size $size b >/dev/null # warm up
mist_rates=()
for _ in $(seq $runs); do
	mist_rates+=("$("$mist" ping --agent "$a" --key "$work/key" --flood --count "$n" --size $size --format json b | field rate)")
done
mist_rate=$(printf '%s\n' "${mist_rates[@]}" | median)
lat=$("$mist" ping --agent "$a" --key "$work/key" --count $((n / 50)) --size $size --format json b)
mist_p50=$(echo "$lat" | field p50_ns)
mist_avg=$(echo "$lat" | field avg_ns)
for p in "${pids[@]}"; do kill "$p"; done
wait 2>/dev/null || true
pids=()

# ---- Erlang/OTP: two nodes
erlc -o "$work" contrib/bench/msgbench.erl
cookie=mistbench$$
erl -name "b@127.0.0.1" -setcookie "$cookie" -noshell -pa "$work" -eval 'msgbench:serve()' &
pids+=($!)
sleep 1
erl_rates=(); erl_out=""
for _ in $(seq $runs); do
	erl_out=$(erl -name "a$RANDOM@127.0.0.1" -setcookie "$cookie" -noshell -pa "$work" \
		-eval "msgbench:run('b@127.0.0.1', $n, $size), init:stop()")
	erl_rates+=("$(echo "$erl_out" | field flood_rate)")
done
erl_rate=$(printf '%s\n' "${erl_rates[@]}" | median)
erl_p50=$(echo "$erl_out" | field p50_ns)
erl_avg=$(echo "$erl_out" | field avg_ns)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
us() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1000 }'; }
printf '\n%-34s %14s %14s %8s\n' "100-byte messages, loopback" "mist (Noise)" "Erlang/OTP" "ratio"
printf '%-34s %14s %14s %8s\n' "one-way rate, msgs/s (median of $runs)" "$mist_rate" "$erl_rate" "$(ratio "$mist_rate" "$erl_rate")x"
printf '%-34s %14s %14s %8s\n' "round trip p50, us" "$(us "$mist_p50")" "$(us "$erl_p50")" "$(ratio "$erl_p50" "$mist_p50")x"
printf '%-34s %14s %14s %8s\n' "round trip mean, us" "$(us "$mist_avg")" "$(us "$erl_avg")" "$(ratio "$erl_avg" "$mist_avg")x"
echo "(ratio > 1 means mist is better; rates: mist/Erlang, latencies: Erlang/mist)"
echo "mist runs: ${mist_rates[*]}   Erlang runs: ${erl_rates[*]}"
