#!/usr/bin/env bash
# From a fresh Debian 12 machine to a running three-node mist cluster:
# installs dependencies, builds, starts three agents on 127.0.0.1-3 with a
# fresh cluster key in a temporary directory -- the second and third join
# through the first only, and find each other by gossip -- shows that they
# see each other, measures a round trip over an encrypted link, runs
# HeatSweeper on them, then serves a mobile app: creates an app, signs up a
# user with curl, saves and queries a document with an ACL, calls an add-on
# function, shows the metrics, and stops them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "==> dependencies"
./contrib/deps.sh
echo "==> build"
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p _build
(cd _build && { [ -f Makefile ] || ../configure -q; } && make -j"$(nproc)" >/dev/null)
mist="$root/_build/src/cmd/mist"
plugin="$root/_build/examples/heatsweeper/.libs/heatplugin.so"
heatsweeper="$root/_build/examples/heatsweeper/heatsweeper"
addon="$root/_build/examples/addon/.libs/hello.so"

work=$(mktemp -d /tmp/mist-quickstart.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

"$mist" keygen > "$work/cluster.key"
chmod 600 "$work/cluster.key"

start() { # name ip join...
	local name=$1 ip=$2; shift 2
	local joins=()
	for j in "$@"; do joins+=(--join "$j"); done
	"$mist" agent --data "$work/$name" --key "$work/cluster.key" \
		--bind "$ip:0" --name "$name" --tier "${TIER:-fog}" "${joins[@]}" \
		--plugin "$plugin" --plugin "$addon" --http "$ip:0" \
		>"$work/$name.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$work/$name/agent.addr" ] && break; sleep 0.1; done
	[ -s "$work/$name/agent.addr" ] || { echo "agent $name did not start:"; cat "$work/$name.log"; exit 1; }
	addr=$(cat "$work/$name/agent.addr")
}

echo "==> three agents"
start alpha 127.0.0.1; a=$addr
start beta 127.0.0.2 "$a"; b=$addr
TIER=cloud start gamma 127.0.0.3 "$a"; c=$addr   # learns beta by gossip
echo "alpha $a, beta $b, gamma $c"

echo "==> waiting until every agent sees all three"
for addr in "$a" "$b" "$c"; do
	ok=""
	for _ in $(seq 100); do
		n=$("$mist" members --agent "$addr" --key "$work/cluster.key" --format json \
			| grep -o '"status":"alive"' | wc -l || true)
		[ "$n" = 3 ] && { ok=1; break; }
		sleep 0.1
	done
	[ -n "$ok" ] || { echo "agent at $addr does not see three members"; exit 1; }
done
"$mist" members --agent "$a" --key "$work/cluster.key"

echo "==> round trips alpha -> gamma over the encrypted link"
"$mist" ping --agent "$a" --key "$work/cluster.key" --count 100 gamma

echo "==> a client credential (on alpha; it spreads to every member)"
"$mist" creds create --name quickstart --agent "$a" --key "$work/cluster.key" \
	> "$work/client.cred"

echo "==> HeatSweeper on the three agents, through alpha's gateway"
args=(--sources 2 --grid 24 --steps 400)
"$heatsweeper" --gateway "$(cat "$work/alpha/gateway.addr")" \
	--cred "$work/client.cred" "${args[@]}" | tee "$work/distributed.txt"
"$mist" status --agent "$a" --key "$work/cluster.key" || true
echo "==> the same search, sequentially in this process"
"$heatsweeper" --local "${args[@]}" | tee "$work/local.txt"
if cmp -s "$work/distributed.txt" "$work/local.txt"; then
	echo "distributed and sequential answers are identical"
else
	echo "quickstart: the distributed answer differs from the sequential one"
	exit 1
fi

echo "==> a mobile app: Parse's REST API on every agent (docs/HTTP.md)"
"$mist" apps create quickstart --functions hello --agent "$a" \
	--key "$work/cluster.key" --format json > "$work/app.json"
cat "$work/app.json"; echo
field() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$work/app.json"; }
app=$(field applicationId); restkey=$(field restKey); masterkey=$(field masterKey)
api="http://$(cat "$work/beta/http.addr")/parse"   # any agent serves any app
hdr=(-H "X-Parse-Application-Id: $app" -H "X-Parse-REST-API-Key: $restkey"
     -H "Content-Type: application/json")
say() { echo "\$ $*" | sed "s/$restkey/\$REST_KEY/g"; }
for _ in $(seq 100); do   # the app spreads to beta by gossip
	curl -sf "${hdr[@]}" "$api/classes/Probe?limit=1" >/dev/null && break
	sleep 0.1
done
# clients may not create classes unless the app allows it (as in Parse 9):
# the developer declares the class, its fields and an index with the master
# key, which is accepted only from loopback by default
schema='{"fields":{"text":{"type":"String"},"stars":{"type":"Number"}},"indexes":{"by_stars":{"stars":1}}}'
say curl -X POST "$api/schemas/Note" -H "X-Parse-Master-Key: ..." -d "'$schema'"
curl -sf -H "X-Parse-Application-Id: $app" -H "X-Parse-Master-Key: $masterkey" \
	-H "Content-Type: application/json" -X POST "$api/schemas/Note" -d "$schema"; echo
say curl -X POST "$api/users" -d '{"username":"ada","password":"lovelace"}'
user=$(curl -sf "${hdr[@]}" -X POST "$api/users" \
	-d '{"username":"ada","password":"lovelace"}')
echo "$user"
uid=$(echo "$user" | sed -n 's/.*"objectId":"\([^"]*\)".*/\1/p')
token=$(echo "$user" | sed -n 's/.*"sessionToken":"\([^"]*\)".*/\1/p')
acl="{\"$uid\":{\"read\":true,\"write\":true}}"
say curl -X POST "$api/classes/Note" -H "X-Parse-Session-Token: ..." \
	-d "{\"text\":\"private\",\"stars\":5,\"ACL\":$acl}"
curl -sf "${hdr[@]}" -H "X-Parse-Session-Token: $token" -X POST \
	"$api/classes/Note" -d "{\"text\":\"private\",\"stars\":5,\"ACL\":$acl}"; echo
say curl -G "$api/classes/Note" --data-urlencode 'where={"stars":{"$gte":3}}' -H "X-Parse-Session-Token: ..."
mine=$(curl -sf "${hdr[@]}" -H "X-Parse-Session-Token: $token" -G "$api/classes/Note" \
	--data-urlencode 'where={"stars":{"$gte":3}}')
echo "$mine"
say curl -G "$api/classes/Note"  "(no session: the ACL hides it)"
public=$(curl -sf "${hdr[@]}" -G "$api/classes/Note")
echo "$public"
echo "$mine" | grep -q '"private"' && ! echo "$public" | grep -q '"private"' ||
	{ echo "quickstart: the ACL did not hold"; exit 1; }
say curl -X POST "$api/functions/hello" -d '{"name":"fog"}'
curl -sf "${hdr[@]}" -X POST "$api/functions/hello" -d '{"name":"fog"}' | tee "$work/fn.json"; echo
grep -q 'Hello, fog!' "$work/fn.json" || { echo "quickstart: the function did not answer"; exit 1; }
echo "\$ curl http://$(cat "$work/beta/http.addr")/metrics | grep requests_total"
curl -sf "http://$(cat "$work/beta/http.addr")/metrics" | grep '^mist_http_requests_total'

echo "==> stopping"
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p"; done
pids=()
echo "quickstart: ok"
