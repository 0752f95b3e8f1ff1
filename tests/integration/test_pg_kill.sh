#!/usr/bin/env bash
# test_pg_kill.sh -- the PostgreSQL documents driver (accessory/docs_pg.c)
# under a crash of its server: a private cluster (contrib/pgtest.sh, in a
# temporary folder, a socket only), one agent on --docs postgres, four
# writers POSTing objects through HTTP; PostgreSQL is stopped at once
# (pg_ctl stop -m immediate: a crash, no checkpoint) mid-load and started
# again.  Shown (TAP):
#   1. every write the client got a 201 for is there afterwards, with its
#      value (none acknowledged is lost);
#   2. requests during the outage get a clear error (503, Parse code 100),
#      never a hang (each curl is bounded by REQ_MAX_S);
#   3. the driver reconnects by itself: writes succeed after the restart;
#   4. the agent never exited.
# Skipped (TAP "1..0 # SKIP") without PostgreSQL's binaries.
set -uo pipefail
: "${MIST_BIN:?MIST_BIN must name the mist binary}"
: "${MIST_SRCDIR:?MIST_SRCDIR must name the source tree}"
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
bail() { echo "Bail out! $1"; [ -f "$work/agent.log" ] && tail -30 "$work/agent.log" | sed 's/^/# /'; exit 1; }
pgtest=$MIST_SRCDIR/contrib/pgtest.sh
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || [ -n "${PG_BIN:-}" ] ||
	skip_all "PostgreSQL is not installed (contrib/deps.sh installs it)"
command -v curl >/dev/null || skip_all "curl not found"
# Writes per writer, and the writer count: enough that the crash lands
# mid-load (the kill waits for WRITES_BEFORE acknowledged ones).
WRITERS=4 PER_WRITER=150 WRITES_BEFORE=100
# One request's bound: an outage must answer, not hang (the driver's
# connect timeout is 2 s).
REQ_MAX_S=10
# Bounded waits, in steps of 0.1 s: 30 s.
WAIT_STEPS=300
work=$(mktemp -d "${TMPDIR:-/tmp}/mist-pgkill.XXXXXX") || bail "mktemp failed"
agent="" pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	if [ -n "$agent" ]; then kill "$agent" 2>/dev/null; wait "$agent" 2>/dev/null; fi
	"$pgtest" stop "$work" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

conninfo=$("$pgtest" start "$work") || bail "cannot start PostgreSQL"
"$MIST_BIN" keygen >"$work/key" || bail "mist keygen failed"
"$MIST_BIN" agent --data "$work/a" --key "$work/key" --bind 127.0.0.1:0 \
	--http 127.0.0.1:0 --docs postgres --docs-url "$conninfo" \
	--log-level warn 2>"$work/agent.log" &
agent=$!
i=0
while ! { [ -s "$work/a/http.addr" ] && [ -s "$work/a/agent.addr" ]; }; do
	i=$((i + 1)); [ $i -le $WAIT_STEPS ] || bail "the agent wrote no http.addr"
	kill -0 "$agent" 2>/dev/null || bail "the agent exited"
	sleep 0.1
done
url=http://$(cat "$work/a/http.addr")/parse
"$MIST_BIN" apps create k --agent "$(cat "$work/a/agent.addr")" --key "$work/key" \
	--client-class-creation --format json >"$work/app.json" 2>"$work/apps.err" ||
	bail "mist apps create: $(cat "$work/apps.err")"
app=$(jq -r .applicationId "$work/app.json") rest=$(jq -r .restKey "$work/app.json")
[ -n "$app" ] && [ "$app" != null ] || bail "no applicationId: $(cat "$work/app.json")"
[ -n "$rest" ] && [ "$rest" != null ] || rest=$(jq -r .restApiKey "$work/app.json")
hdr=(-H "X-Parse-Application-Id: $app" -H "X-Parse-REST-API-Key: $rest" -H "Content-Type: application/json")
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "${hdr[@]}" "$url/classes/K?limit=1")" = 200 ]; do
	i=$((i + 1)); [ $i -le $WAIT_STEPS ] || bail "the app is never served"
	sleep 0.1
done

# writer W: PER_WRITER POSTs; one line per answer: status objectId value
writer() {
	local w=$1 n
	for ((n = 0; n < PER_WRITER; n++)); do
		local v=$((w * 100000 + n)) out
		out=$(curl -s --max-time $REQ_MAX_S -w '\n%{http_code}' "${hdr[@]}" \
			-X POST -d "{\"v\":$v}" "$url/classes/K")
		local code=${out##*$'\n'} body=${out%$'\n'*}
		local id code100=""
		id=$(printf '%s' "$body" | jq -r '.objectId // empty' 2>/dev/null)
		printf '%s' "$body" | jq -e '.code == 100' >/dev/null 2>&1 && code100=c100
		echo "$code ${id:--} $v $code100" >>"$work/w$w.log"
	done
}
for ((w = 0; w < WRITERS; w++)); do writer $w & pids+=($!); done
acked() { cat "$work"/w*.log 2>/dev/null | awk '$1 == 201' | wc -l; }
i=0
until [ "$(acked)" -ge $WRITES_BEFORE ]; do
	i=$((i + 1)); [ $i -le $WAIT_STEPS ] || bail "the writers made no progress"
	sleep 0.1
done
"$pgtest" kill "$work" || bail "pg_ctl stop -m immediate failed"
before=$(cat "$work"/w*.log | wc -l)
sleep 1.5 # an outage the writers meet
"$pgtest" start "$work" >/dev/null || bail "PostgreSQL did not start again"
for p in "${pids[@]}"; do wait "$p"; done
pids=()
cat "$work"/w*.log >"$work/all.log"
total=$(wc -l <"$work/all.log")
echo "# $total answers, $(awk '$1 == 201' "$work/all.log" | wc -l) acknowledged, $before before the crash"
echo "# statuses: $(awk '{print $1}' "$work/all.log" | sort | uniq -c | tr '\n' ' ')"
echo "1..4"

# 1. every acknowledged write is there
lost=0
while read -r code id v _; do
	[ "$code" = 201 ] || continue
	got=$(curl -s --max-time $REQ_MAX_S "${hdr[@]}" "$url/classes/K/$id" | jq -r '.v // empty')
	if [ "$got" != "$v" ]; then
		lost=$((lost + 1)); echo "# lost: $id (v $v), read back '$got'"
	fi
done <"$work/all.log"
[ $lost -eq 0 ] && echo "ok 1 - every acknowledged write is there after the crash" ||
	echo "not ok 1 - $lost acknowledged writes lost"

# 2. the outage answered 503 code 100, never a hang (curl's 000)
hung=$(awk '$1 == "000"' "$work/all.log" | wc -l)
c503=$(awk '$1 == 503 && $4 == "c100"' "$work/all.log" | wc -l)
other=$(awk '$1 != 201 && !($1 == 503 && $4 == "c100")' "$work/all.log" | wc -l)
if [ "$hung" -eq 0 ] && [ "$c503" -gt 0 ] && [ "$other" -eq 0 ]; then
	echo "ok 2 - during the outage: $c503 answers 503 code 100, none hung"
else
	echo "not ok 2 - outage: $c503 x 503/100, $hung hung, $other other errors"
	awk '$1 != 201' "$work/all.log" | head -5 | sed 's/^/# /'
fi

# 3. reconnected by itself: acknowledged writes after the first 503
after=$(awk 'seen && $1 == 201 {n++} $1 == 503 {seen = 1} END {print n + 0}' "$work/w0.log")
[ "$after" -gt 0 ] && echo "ok 3 - $after writes of writer 0 acknowledged after the outage" ||
	echo "not ok 3 - no write acknowledged after the outage"

# 4. the agent lived through it
kill -0 "$agent" 2>/dev/null && echo "ok 4 - the agent is alive" || echo "not ok 4 - the agent exited"
