#!/bin/sh
# test_install.sh -- libmist as a user gets it: `make install` into a
# staging folder, then a tiny client (client.c) compiled with nothing but
# `pkg-config --cflags --libs libmist` pointed at the staged tree, run
# against the staged libmist.so (and linked once from libmist.a), first
# without an agent, then through a real one started from the staged `mist`.
# It also checks what the staged libmist.so links (no LMDB, no libuv) and
# exports (mist_* only).  TAP on stdout.
#
# From `make check` (Makefile.am's SH_LOG_COMPILER), the environment has:
#   MIST_BUILDDIR MIST_SRCDIR  the build and source trees
#   MAKE CC NM PKG_CONFIG      the tools configure found
#   MIST_CFLAGS MIST_LDFLAGS   the build's flags (sanitizers included: a
#                              program linking an ASan library needs them)
#   MIST_BINDIR MIST_LIBDIR MIST_INCLUDEDIR MIST_PKGCONFIGDIR  install dirs
#   MIST_VERSION               the package version
# It writes only in a fresh folder under $TMPDIR, removed at exit, so it
# passes in distcheck's read-only source tree.
set -u

# How long the agent may take to write its gateway address, in steps of
# WAIT_STEP seconds: 30 s, generous for a loaded machine under ASan.
WAIT_STEPS=300
WAIT_STEP=0.1

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# prints a log file as TAP diagnostics
diag() { sed 's/^/# /' "$1"; }
# check DESCRIPTION COMMAND...: one TAP line, the command's output as
# diagnostics when it fails
check() {
	what=$1
	shift
	if "$@" >"$work/out" 2>&1; then ok "$what"; else not_ok "$what"; diag "$work/out"; fi
}

echo "1..12"
work=$(mktemp -d "${TMPDIR:-/tmp}/mist-install.XXXXXX") || { echo "Bail out! mktemp"; exit 1; }
agent_pid=
cleanup() {
	if [ -n "$agent_pid" ]; then
		kill -TERM "$agent_pid" 2>/dev/null
		wait "$agent_pid" 2>/dev/null
	fi
	chmod -R u+w "$work" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

stage=$work/stage
libdir=$stage$MIST_LIBDIR
lib=$libdir/libmist.so

# 1. install.  The sub-make is not one of this make's jobs: it gets no
# jobserver, so it must not inherit this make's flags.
if (unset MAKEFLAGS MFLAGS MAKELEVEL; cd "$MIST_BUILDDIR" &&
	$MAKE install DESTDIR="$stage") >"$work/install.log" 2>&1; then
	ok "make install DESTDIR=<stage>"
else
	not_ok "make install DESTDIR=<stage>"
	diag "$work/install.log"
	echo "Bail out! nothing installed"
	exit 1
fi

# 2-3. what the shared library links and exports
if [ -f "$lib" ]; then
	deps=$(ldd "$lib" 2>&1)
	if echo "$deps" | grep -Eq 'liblmdb|libuv'; then
		not_ok "libmist.so links neither liblmdb nor libuv"
		echo "$deps" | sed 's/^/# /'
	else
		ok "libmist.so links neither liblmdb nor libuv"
	fi
	syms=$($NM -D --defined-only "$lib" | awk 'NF == 3 { print $3 }')
	others=$(echo "$syms" | grep -v '^mist_')
	if [ -n "$others" ] || ! echo "$syms" | grep -qx 'mist_connect'; then
		not_ok "libmist.so exports mist_* (MIST_EXTERN) only"
		echo "$syms" | sed 's/^/# /'
	else
		ok "libmist.so exports mist_* (MIST_EXTERN) only ($(echo "$syms" | wc -l) symbols)"
	fi
else
	skip "libmist.so links neither liblmdb nor libuv" "no shared library (--disable-shared)"
	skip "libmist.so exports mist_* only" "no shared library"
fi

# 4. pkg-config, found in the staged tree and pointing into it
PKG_CONFIG_PATH=$stage$MIST_PKGCONFIGDIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
PKG_CONFIG_SYSROOT_DIR=$stage
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
pc_cflags=$($PKG_CONFIG --cflags libmist 2>"$work/pc.err")
pc_libs=$($PKG_CONFIG --libs libmist 2>>"$work/pc.err")
pc_static=$($PKG_CONFIG --static --libs libmist 2>>"$work/pc.err")
case "$pc_cflags $pc_libs" in
*"-I$stage$MIST_INCLUDEDIR"*"-L$libdir"*)
	ok "pkg-config libmist: $pc_cflags $pc_libs" ;;
*)
	not_ok "pkg-config libmist points into the staged tree: '$pc_cflags' '$pc_libs'"
	diag "$work/pc.err" ;;
esac
case " $pc_static " in
*" -luv "* | *" -llmdb "*)
	not_ok "pkg-config --static libmist needs no libuv or LMDB: $pc_static" ;;
*)
	ok "pkg-config --static libmist: $pc_static" ;;
esac

# 5-7. the client, linked with the shared library
cd "$work" || exit 1
client_src=$MIST_SRCDIR/tests/install/client.c
if [ -f "$lib" ]; then
	# $MIST_CFLAGS holds the warnings (and -Werror) of the build: the
	# public header compiles cleanly in a user's program too
	# shellcheck disable=SC2086
	check "cc client.c \$(pkg-config --cflags --libs libmist)" \
		$CC $MIST_CFLAGS $pc_cflags -o client "$client_src" $MIST_LDFLAGS $pc_libs
	if [ -x client ]; then
		resolved=$(LD_LIBRARY_PATH=$libdir ldd ./client | grep 'libmist\.so')
		case "$resolved" in
		*"$libdir/libmist.so"*) ok "the client loads the staged libmist.so" ;;
		*) not_ok "the client loads the staged libmist.so: $resolved" ;;
		esac
		check "client offline: versions, errors, a closed 127.0.0.1 port" \
			env LD_LIBRARY_PATH="$libdir" ./client offline "$MIST_VERSION"
	else
		not_ok "the client loads the staged libmist.so"
		not_ok "client offline"
	fi
else
	skip "cc client.c (shared)" "no shared library"
	skip "the client loads the staged libmist.so" "no shared library"
	skip "client offline (shared)" "no shared library"
fi

# 8. the client, linked from the static archive alone: nothing the archive
# needs is missing from pkg-config --static
if [ -f "$libdir/libmist.a" ]; then
	static_libs=$(echo " $pc_static " | sed 's/ -lmist / /')
	# shellcheck disable=SC2086
	if $CC $MIST_CFLAGS $pc_cflags -o client-static "$client_src" \
		"$libdir/libmist.a" $MIST_LDFLAGS $static_libs >"$work/out" 2>&1 &&
		./client-static offline "$MIST_VERSION" >>"$work/out" 2>&1; then
		ok "client linked from libmist.a runs"
	else
		not_ok "client linked from libmist.a runs"
		diag "$work/out"
	fi
else
	skip "client linked from libmist.a" "no static library (--disable-static)"
fi

# 10-12. one task through a real agent: the staged `mist`, the tests' plugin
mist=$stage$MIST_BINDIR/mist
plugin=$MIST_BUILDDIR/tests/plugins/.libs/testfns.so
data=$work/agent
if [ ! -x client ]; then
	skip "agent and credential" "no client"
	skip "client job: one echo task" "no client"
	skip "the agent stops cleanly on SIGTERM" "no client"
	exit 0
fi
if "$mist" keygen >"$work/cluster.key" 2>"$work/out" && chmod 600 "$work/cluster.key"; then
	"$mist" agent --data "$data" --key "$work/cluster.key" --bind 127.0.0.1:0 \
		--gateway 127.0.0.1:0 --name install --plugin "$plugin" \
		--executors 1 2>"$work/agent.log" &
	agent_pid=$!
	i=0
	# gateway.addr is written in one write(2): a full line means all of it
	while [ "$(cat "$data/gateway.addr" 2>/dev/null | wc -l)" -lt 1 ] &&
		kill -0 "$agent_pid" 2>/dev/null && [ $i -lt $WAIT_STEPS ]; do
		sleep $WAIT_STEP
		i=$((i + 1))
	done
fi
gateway=$(head -n 1 "$data/gateway.addr" 2>/dev/null)
agent=$(head -n 1 "$data/agent.addr" 2>/dev/null)
if [ -n "$gateway" ] && [ -n "$agent" ] &&
	"$mist" creds create --name install --agent "$agent" \
		--key "$work/cluster.key" >"$work/cred" 2>"$work/out"; then
	ok "agent on $agent, gateway $gateway, a credential"
	check "client job: one echo task through the agent" \
		env LD_LIBRARY_PATH="$libdir" ./client job "$gateway" "$work/cred"
else
	not_ok "agent and credential"
	diag "$work/out"
	diag "$work/agent.log"
	not_ok "client job: one echo task (no agent)"
fi
if [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid"; then
	ok "the agent stops cleanly on SIGTERM"
else
	not_ok "the agent stops cleanly on SIGTERM"
	diag "$work/agent.log"
fi
agent_pid=
exit 0
