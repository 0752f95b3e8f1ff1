#!/usr/bin/env bash
# Runs scenario.js (the official Parse JS SDK) against a server, installing
# the SDK first if needed (install.sh; DEST from $MIST_SDK_DIR as there).
#
#   tests/sdk/run.sh SERVER_URL APP_ID JS_KEY [MASTER_KEY]
#
# The SDK_* variables of scenario.js pass through.  Exit status: scenario's.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "$0: node not found (contrib/deps.sh installs it)" >&2; exit 1; }
mods=$("$src/install.sh")
NODE_PATH="$mods/node_modules" exec node "$src/scenario.js" "$@"
