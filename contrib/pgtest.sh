#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests of the PostgreSQL documents
# driver (accessory/docs_pg.c):
#   contrib/pgtest.sh start DIR   # initdb in DIR/pg, listens on a socket in
#                                 # DIR/pg only (no TCP); prints the libpq
#                                 # connection string to give MIST_TEST_PG
#   contrib/pgtest.sh stop DIR    # stops it (the folder is the caller's)
#   contrib/pgtest.sh kill DIR    # stops it at once (-m immediate): a crash
# Debian's binaries (contrib/deps.sh installs postgresql) are under
# /usr/lib/postgresql/*/bin.  As root the server runs as the postgres user
# (it refuses root).
set -euo pipefail
pg_bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
cmd=${1:?start|stop|kill DIR}
dir=${2:?start|stop|kill DIR}
data=$dir/pg
as() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
start)
	[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL not found (contrib/deps.sh installs it)" >&2; exit 1; }
	mkdir -p "$data"
	if [ "$(id -u)" -eq 0 ]; then chmod 755 "$dir"; chown postgres: "$data"; fi
	if [ ! -f "$data/PG_VERSION" ]; then
		as "$pg_bin/initdb" -D "$data" --auth=trust -U postgres -E UTF8 >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	as "$pg_bin/pg_ctl" -D "$data" -l "$data/log" -w -t 60 start \
		-o "-c listen_addresses='' -k $data -c max_connections=200" >/dev/null ||
		{ cat "$data/log" >&2; exit 1; }
	echo "host=$data user=postgres dbname=postgres"
	;;
stop)
	as "$pg_bin/pg_ctl" -D "$data" -w -t 60 stop -m fast >/dev/null
	;;
kill)
	as "$pg_bin/pg_ctl" -D "$data" -w -t 60 stop -m immediate >/dev/null
	;;
*)
	echo "usage: $0 start|stop|kill DIR" >&2; exit 2
	;;
esac
