#!/usr/bin/env bash
# Installs everything iogate needs to build and test, from Debian's packages only.
# Boost 1.81 (newer Asio/Beast, Boost.JSON) is the one Boost we use; see README "Dependencies".
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-system1.81-dev
  libssl-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsimdjson-dev nlohmann-json3-dev
  clang-14 libclang-rt-14-dev
  nodejs
  python3-socketio python3-engineio python3-requests python3-websocket python3-aiohttp
  chromium
  libhiredis-dev redis-server libmsgpuck-dev
  gnuplot-nox
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
