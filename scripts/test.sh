#!/usr/bin/env bash
# Builds iogate (release preset) and runs every test: unit tests, fuzz-corpus replays and the
# integration tests with real clients (socket.io-client 4 and 2, python-socketio).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
npm ci --prefix tests/integration --no-audit --no-fund --loglevel=error
cmake --preset release
cmake --build --preset release
ctest --preset release -j "$(nproc)"
