#!/usr/bin/env bash
# Builds iogate (release preset) and starts it on its defaults: Socket.IO on port 3000 with the
# /admin and /web gateways, the back-end API on 127.0.0.1:3001, in memory (no Redis).
# Tokens need a key: without IOGATE_JWT_SECRET this uses a development secret and says so.
# Extra arguments go to iogate (`--help` lists them all).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target iogate
if [ -z "${IOGATE_JWT_SECRET:-}" ] && [ -z "${IOGATE_JWT_PUBLIC_KEY:-}" ]; then
  export IOGATE_JWT_SECRET=iogate-dev-secret
  echo "IOGATE_JWT_SECRET is not set: using the development secret 'iogate-dev-secret' (never in production)" >&2
fi
exec build/release/bin/iogate "$@"
