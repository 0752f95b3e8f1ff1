#!/usr/bin/env bash
# Installs the Debian 12 packages mist needs, only those missing.
#   contrib/deps.sh            build and test dependencies
#   contrib/deps.sh bench      also the peers the benchmarks run (Erlang;
#                              for contrib/bench/http.sh nginx-light, wrk,
#                              PostgreSQL and, through npm, Parse Server)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(build-essential autoconf automake libtool pkg-config
      libuv1-dev libsodium-dev liblmdb-dev libmsgpack-dev libcriterion-dev
      clang libclang-rt-14-dev
      libh2o-dev libssl-dev openssl libjansson-dev libpcre2-dev libcurl4-openssl-dev
      libpq-dev postgresql)  # libpq: the PostgreSQL driver; postgresql: its checks
# tests/integration/test_partition.sh cuts agents apart in network
# namespaces with nftables
pkgs+=(iproute2 nftables)
# Node.js runs the official Parse JS SDK against the gateway (tests/sdk/).
# A machine that already has node and npm (from another source) keeps them:
# Debian's npm conflicts with, for instance, NodeSource's nodejs.
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
if [ "${1:-}" = bench ]; then
	pkgs+=(erlang-base)
	# contrib/bench/http.sh: nginx `return 200` (any nginx flavour will do),
	# the load generator, Parse Server's database, and its tools
	dpkg-query -W -f='${Status}' nginx 2>/dev/null | grep -q 'install ok installed' ||
		pkgs+=(nginx-light)
	pkgs+=(wrk postgresql curl jq openssl python3)
	# contrib/bench/hostapi_cg.sh: instructions per request, under callgrind
	pkgs+=(valgrind)
	# contrib/bench/dask.sh: the job peer
	pkgs+=(python3-distributed)
fi

# The npm peers (Parse Server, pinned with a package-lock), installed by
# their own script outside the source tree (~/.cache/mist-bench), after the
# Debian packages; never at build time.
npm_peers() {
	[ "${1:-}" = bench ] || return 0
	"$root/contrib/bench/parse-server/install.sh" >/dev/null
}

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	npm_peers "${1:-}"
	exit 0
fi

echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
for i in 1 2 3; do
	$sudo apt-get update -qq && break
	echo "apt-get update failed (lock held?), retrying" >&2; sleep 5
done
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
npm_peers "${1:-}"
