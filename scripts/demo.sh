#!/usr/bin/env bash
# Runs the heartbeat demo: a server and two clients in one process, a healthy one and a silent
# one that the server drops for silence. Installs what the machine lacks (Debian packages),
# builds into build/ and runs build/examples/demo.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$HEARTBEAT_ROOT"

heartbeat_install_for_compiler
heartbeat_configure build
cmake --build build --target demo
echo
exec build/examples/demo
