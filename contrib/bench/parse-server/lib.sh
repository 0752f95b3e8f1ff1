# shellcheck shell=bash
# A private PostgreSQL 15 cluster and Parse Server on it, for the benchmarks
# (contrib/bench/http.sh) and for proving tests/sdk/scenario.js against the
# real Parse Server (tests/sdk/run-parse.sh).  Sourced, not run:
#
#   . contrib/bench/parse-server/lib.sh
#   work=$(mktemp -d); trap 'peers_stop; rm -rf "$work"' EXIT
#   pg_start "$work"                 # sets pg_port, pg_pid; database "parse"
#   parse_start "$work"              # sets parse_url, parse_pid, parse_app,
#                                    # parse_rest, parse_js, parse_master
#   ...
#   peers_stop                       # Parse Server, then PostgreSQL
#
# Everything lives in the folder given (the cluster, its socket, Parse's
# ./logs); both listen on 127.0.0.1 on a free port.  As root, PostgreSQL
# runs as the postgres user (it refuses root).  Parse Server is installed by
# install.sh beside this file (outside the source tree) and runs as one
# Node.js process with the cloud code of cloud/main.js.
ps_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pg_bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
pg_pid="" parse_pid="" pg_data=""

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# waits (bounded) until the command succeeds; fails after $2 seconds
ps_wait() {
	local cmd=$1 limit=$2 start=$SECONDS
	until eval "$cmd" >/dev/null 2>&1; do
		if [ $((SECONDS - start)) -ge "$limit" ]; then
			echo "gave up after ${limit}s waiting for: $cmd" >&2
			return 1
		fi
		sleep 0.1
	done
}

pg_as() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_start() {
	local work=$1
	[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL not found under /usr/lib/postgresql (contrib/deps.sh bench)" >&2; return 1; }
	pg_data=$work/pg
	mkdir -p "$pg_data"
	if [ "$(id -u)" -eq 0 ]; then
		chmod 755 "$work"
		chown postgres: "$pg_data"
	fi
	pg_as "$pg_bin/initdb" -D "$pg_data" --auth=trust -U postgres -E UTF8 >"$work/initdb.log" 2>&1 ||
		{ cat "$work/initdb.log" >&2; return 1; }
	pg_port=$(free_port)
	pg_as "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/log" -w start \
		-o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_data -c fsync=off" >/dev/null ||
		{ cat "$pg_data/log" >&2; return 1; }
	pg_pid=$(head -1 "$pg_data/postmaster.pid")
	"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres parse
}

pg_stop() {
	[ -n "$pg_data" ] && [ -f "$pg_data/postmaster.pid" ] &&
		pg_as "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1
	pg_pid=""
}

# parse_start WORK [NAME]: one Parse Server on the cluster pg_start made;
# several on one fresh database race on schema creation: start them one
# after another.
parse_start() {
	local work=$1 name=${2:-parse} mods
	mods=$("$ps_dir/install.sh") || return 1
	local dir=$work/$name
	mkdir -p "$dir"
	parse_app=${PARSE_APP_ID:-benchapp}
	parse_rest=rest-$RANDOM$RANDOM parse_js=js-$RANDOM$RANDOM parse_master=master-$RANDOM$RANDOM
	local port
	port=$(free_port)
	parse_url=http://127.0.0.1:$port/parse
	# started in its own folder: it writes ./logs there before its own
	# logsFolder setting applies
	(cd "$dir" && exec env NODE_PATH="$mods/node_modules" \
		PARSE_PORT="$port" PARSE_APP_ID="$parse_app" PARSE_REST_KEY="$parse_rest" \
		PARSE_JS_KEY="$parse_js" PARSE_MASTER_KEY="$parse_master" \
		PARSE_DATABASE_URI="postgres://postgres@127.0.0.1:$pg_port/parse" \
		PARSE_CLOUD="$ps_dir/cloud/main.js" PARSE_LOGS="$dir/logs" \
		node "$ps_dir/server.js" >"$dir/out.log" 2>&1) &
	parse_pid=$!
	if ! ps_wait "curl -sf $parse_url/health | grep -q ok" 60; then
		tail -20 "$dir/out.log" >&2
		return 1
	fi
}

parse_stop() {
	if [ -n "$parse_pid" ]; then
		kill "$parse_pid" 2>/dev/null
		wait "$parse_pid" 2>/dev/null
	fi
	parse_pid=""
}

peers_stop() { parse_stop; pg_stop; }
