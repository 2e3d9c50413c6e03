#!/usr/bin/env bash
# Builds iogate (release preset) and runs every test: unit tests, fuzz-corpus replays and the
# integration tests with real clients (socket.io-client 4 and 2, python-socketio), then the
# benchmark in its short mode.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
npm ci --prefix tests/integration --no-audit --no-fund --loglevel=error
cmake --preset release
cmake --build --preset release
ctest --preset release -j "$(nproc)"
# The benchmark at small N, so it cannot rot: it fails on crashes and lost or duplicated
# messages, never on figures.
bench/run.sh --short
