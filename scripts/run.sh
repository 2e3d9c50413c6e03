#!/usr/bin/env bash
# Builds iogate (release preset) and starts the chat example on its defaults: port 3000,
# every core, in-memory adapter (no Redis). Extra arguments go to the server (--help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target chat_server
exec build/release/bin/chat_server "$@"
