#!/usr/bin/env bash
# Installs the Debian 12 packages mist needs, only those missing.
#   contrib/deps.sh            build and test dependencies
#   contrib/deps.sh bench      also the peers the benchmarks run (Erlang)
set -euo pipefail

pkgs=(build-essential autoconf automake libtool pkg-config
      libuv1-dev libsodium-dev liblmdb-dev libmsgpack-dev libcriterion-dev
      clang libclang-rt-14-dev
      libh2o-dev libssl-dev libjansson-dev libpcre2-dev libcurl4-openssl-dev)
# Node.js runs the official Parse JS SDK against the gateway (tests/sdk/).
# A machine that already has node and npm (from another source) keeps them:
# Debian's npm conflicts with, for instance, NodeSource's nodejs.
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
if [ "${1:-}" = bench ]; then
	pkgs+=(erlang-base)
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

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
