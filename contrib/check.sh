#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. install missing dependencies (contrib/deps.sh)
#   2. build with warnings as errors; make check
#   3. build with AddressSanitizer + UndefinedBehaviorSanitizer; make check
#   4. make distcheck
#   5. fuzz the wire decoders for a while (clang + libFuzzer), if available
# and print every test summary at the end.  Exits non-zero if anything failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${MIST_FUZZ_SECONDS:-60}
status=0
step() { printf '\n==== %s\n' "$*"; }

step "dependencies"
./contrib/deps.sh || exit 1

# The shared Noise vectors sit beside the repository; distcheck builds from a
# copy elsewhere, so tell it where they are.
vectors="$root/../shared/vectors/noise/cacophony-25519-chachapoly-blake2b.json"
if [ -z "${MIST_NOISE_VECTORS:-}" ] && [ -f "$vectors" ]; then
	export MIST_NOISE_VECTORS="$vectors"
fi

step "autoreconf"
autoreconf -fi || exit 1

build() { # dir, configure flags...
	local dir=$1; shift
	rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" &&
		"$root/configure" -q "$@" && make -j"$jobs" >/dev/null &&
		make -j"$jobs" check
	local rc=$?
	cd "$root"
	return $rc
}

step "build and test: -Werror"
build _check/werror --enable-werror || status=1

step "build and test: ASan + UBSan"
build _check/asan --enable-werror --enable-asan || status=1

step "make distcheck"
(cd _check/werror && make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror >distcheck.log 2>&1) \
	&& echo "distcheck: ok" || { echo "distcheck: FAILED (see _check/werror/distcheck.log)"; tail -40 _check/werror/distcheck.log; status=1; }

if command -v clang >/dev/null && [ "$fuzz_seconds" -gt 0 ]; then
	step "fuzz the wire decoders for ${fuzz_seconds}s"
	rm -rf _check/fuzz && mkdir -p _check/fuzz/corpus &&
	cp tests/fuzz/corpus/wire/* _check/fuzz/corpus/ &&
	(cd _check/fuzz && "$root/configure" -q CC=clang --enable-fuzzing --enable-asan --disable-tests >/dev/null &&
	 make -j"$jobs" tests/fuzz/fuzz_wire >/dev/null &&
	 ./tests/fuzz/fuzz_wire -max_total_time="$fuzz_seconds" -max_len=4096 \
		-artifact_prefix="$root/_check/fuzz/" corpus >fuzz.log 2>&1) \
		&& echo "fuzz: no crash ($(grep -c . _check/fuzz/fuzz.log) log lines)" \
		|| { echo "fuzz: FAILED -- add the crash file under _check/fuzz/ to tests/fuzz/corpus/wire"; tail -30 _check/fuzz/fuzz.log; status=1; }
fi

step "summary"
pass=0; fail=0
for dir in _check/werror _check/asan; do
	for log in $(find "$dir/tests" -name '*.log' 2>/dev/null | sort); do
		line=$(grep -h 'Synthesis:' "$log" | tail -1)
		[ -n "$line" ] && echo "$dir/${log#$dir/}: $line"
	done
	for trs in $(find "$dir/tests" -name '*.trs' 2>/dev/null); do
		pass=$((pass + $(grep -c '^:test-result: PASS' "$trs")))
		fail=$((fail + $(grep -c '^:test-result: \(FAIL\|ERROR\|XPASS\)' "$trs")))
	done
done
[ $status -eq 0 ] || echo "some step failed: see above"
echo "tests: $pass passed, $fail failed"
[ $fail -eq 0 ] || status=1
exit $status
