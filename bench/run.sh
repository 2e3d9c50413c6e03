#!/usr/bin/env bash
# Side-by-side load benchmark: iogate vs the Node socket.io 4.8.x reference server.
#
# Starts each server in turn (same port choice, same engine settings, same scenario parameters),
# drives it with bench/load/fanout.js, then prints an iogate-vs-node table with ratios and writes
# bench/results/latest.md (+ the raw JSON of each run next to it). See bench/README.md.
#
# Every parameter is an environment variable; the defaults fit a 2-core machine and keep each
# server's run around 35 s:
#   CONNS=2000 ROOMS=100 STEADY_RATE=1000 STEADY_SECONDS=10 WARMUP_SECONDS=1
#   BURST_SIZE=10 BURST_INTERVAL_MS=500 BURST_SECONDS=5 ECHO_CLIENTS=50 ECHO_SECONDS=10
#   PAYLOAD_BYTES=64 DRAIN_TIMEOUT_MS=5000 SETTLE_MS=1000 CONNECT_CONCURRENCY=100
#   CONNECT_TIMEOUT_MS=30000 PHASES=steady,burst,echo
#   QUIET_THRESHOLD_PERCENT=25 QUIET_MAX_WAIT_SECONDS=5 (before each phase, wait at most that
#   long for other processes to use less than that share of a core; 0 disables the wait)
#   PHASE_RETRIES=0         (rerun a phase disturbed by other processes up to N times, keep the
#                            least disturbed attempt; each retry lengthens the run)
#   IOGATE_BIN=build/release/bin/integration_server IOGATE_SHARDS=1
#   SERVERS="iogate node"   (order of the runs; the table needs both)
#   STARTUP_TIMEOUT=10      (s to wait for a server's listening line)
#   RUN_TIMEOUT=             (s hard cap on one load-generator run; derived from the phases)
#   RESULTS_DIR=bench/results OUT_MD=$RESULTS_DIR/latest.md
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
LOAD="$HERE/load"

export CONNS="${CONNS:-2000}"
export ROOMS="${ROOMS:-100}"
export STEADY_RATE="${STEADY_RATE:-1000}"
export STEADY_SECONDS="${STEADY_SECONDS:-10}"
export WARMUP_SECONDS="${WARMUP_SECONDS:-1}"
export BURST_SIZE="${BURST_SIZE:-10}"
export BURST_INTERVAL_MS="${BURST_INTERVAL_MS:-500}"
export BURST_SECONDS="${BURST_SECONDS:-5}"
export ECHO_CLIENTS="${ECHO_CLIENTS:-50}"
export ECHO_SECONDS="${ECHO_SECONDS:-10}"
export PAYLOAD_BYTES="${PAYLOAD_BYTES:-64}"
export DRAIN_TIMEOUT_MS="${DRAIN_TIMEOUT_MS:-5000}"
export SETTLE_MS="${SETTLE_MS:-1000}"
export CONNECT_CONCURRENCY="${CONNECT_CONCURRENCY:-100}"
export CONNECT_TIMEOUT_MS="${CONNECT_TIMEOUT_MS:-30000}"
export PHASES="${PHASES:-steady,burst,echo}"
export QUIET_THRESHOLD_PERCENT="${QUIET_THRESHOLD_PERCENT:-25}"
export QUIET_MAX_WAIT_SECONDS="${QUIET_MAX_WAIT_SECONDS:-5}"
export PHASE_RETRIES="${PHASE_RETRIES:-0}"
export IOGATE_SHARDS="${IOGATE_SHARDS:-1}"
export CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
IOGATE_BIN="${IOGATE_BIN:-$ROOT/build/release/bin/integration_server}"
SERVERS="${SERVERS:-iogate node}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-10}"
RESULTS_DIR="${RESULTS_DIR:-$HERE/results}"
OUT_MD="${OUT_MD:-$RESULTS_DIR/latest.md}"
# Phases + connect + drains + settles, with a generous margin; the load generator also has its
# own watchdog, this is the outer bound.
DEFAULT_RUN_TIMEOUT=$(( (PHASE_RETRIES + 1) * (WARMUP_SECONDS + STEADY_SECONDS + BURST_SECONDS + ECHO_SECONDS
                                            + 4 * DRAIN_TIMEOUT_MS / 1000 + 3 * (QUIET_MAX_WAIT_SECONDS + 1))
                        + 2 * CONNECT_TIMEOUT_MS / 1000 + 4 * SETTLE_MS / 1000 + 30 ))
RUN_TIMEOUT="${RUN_TIMEOUT:-$DEFAULT_RUN_TIMEOUT}"

die() { echo "run.sh: error: $*" >&2; exit 1; }

# --- prerequisites -------------------------------------------------------------------------------
command -v node >/dev/null || die "node not found"
command -v timeout >/dev/null || die "timeout (coreutils) not found"
[[ -x "$IOGATE_BIN" ]] || die "$IOGATE_BIN missing: cmake --preset release && cmake --build --preset release --target integration_server"
if [[ ! -d "$LOAD/node_modules/socket.io" || ! -d "$LOAD/node_modules/ws" ]]; then
  echo "run.sh: installing bench/load dependencies (npm ci)" >&2
  (cd "$LOAD" && timeout 300 npm ci --no-audit --no-fund >&2) || die "npm ci failed in $LOAD"
fi

# Each side holds CONNS+1 sockets (+ listeners, logs, node internals).
need=$(( CONNS + 256 ))
hard="$(ulimit -Hn)"
if [[ "$hard" == unlimited ]]; then
  ulimit -n 1048576 2>/dev/null || ulimit -n 65536 2>/dev/null || true
else
  target=$(( hard < 1048576 ? hard : 1048576 ))
  ulimit -n "$target" 2>/dev/null || true
fi
soft="$(ulimit -n)"
if [[ "$soft" != unlimited && "$soft" -lt "$need" ]]; then
  die "ulimit -n is $soft (hard $hard) but CONNS=$CONNS needs at least $need"
fi

mkdir -p "$RESULTS_DIR"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/iogate-bench.XXXXXX")"

SERVER_PID=""
stop_server() {
  local pid="$1"
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: server pid $pid ignored SIGTERM for 5 s, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_server "$SERVER_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME LOG -> sets SERVER_PID and SERVER_PORT
start_server() {
  local name="$1" log="$2"
  case "$name" in
    iogate) "$IOGATE_BIN" --port 0 --shards "$IOGATE_SHARDS" >"$log" 2>&1 & ;;
    node) node "$LOAD/reference_server.js" --port 0 >"$log" 2>&1 & ;;
    *) die "unknown server $name (expected iogate or node)" ;;
  esac
  SERVER_PID=$!
  local deadline=$(( $(date +%s) + STARTUP_TIMEOUT ))
  SERVER_PORT=""
  while [[ -z "$SERVER_PORT" ]]; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; die "$name exited during startup"; }
    (( $(date +%s) <= deadline )) || { cat "$log" >&2; die "$name printed no listening line within ${STARTUP_TIMEOUT}s"; }
    SERVER_PORT="$(sed -n 's/.*listening on port \([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)"
    [[ -n "$SERVER_PORT" ]] || sleep 0.05
  done
}

loadavg_before="$(cut -d' ' -f1-3 /proc/loadavg)"
git_rev="$(git -C "$ROOT" log -1 --format='%h %cI' 2>/dev/null || echo '?')"
git_dirty="$(git -C "$ROOT" status --porcelain --untracked-files=no -- src 2>/dev/null || true)"
status=0
for name in $SERVERS; do
  log="$RESULTS_DIR/latest-$name.server.log"
  json="$RESULTS_DIR/latest-$name.json"
  rm -f "$json"
  start_server "$name" "$log"
  echo "run.sh: $name pid $SERVER_PID on port $SERVER_PORT; running load (cap ${RUN_TIMEOUT}s)" >&2
  rc=0
  PORT="$SERVER_PORT" SERVER_PID="$SERVER_PID" SERVER_NAME="$name" OUT="$json" \
    timeout --kill-after=5 "$RUN_TIMEOUT" node "$LOAD/fanout.js" || rc=$?
  server_alive=1
  kill -0 "$SERVER_PID" 2>/dev/null || server_alive=0
  stop_server "$SERVER_PID"
  SERVER_PID=""
  if (( rc != 0 )); then
    echo "run.sh: load generator against $name failed (exit $rc, server still alive: $server_alive)" >&2
    [[ $rc -eq 124 || $rc -eq 137 ]] && echo "run.sh: (killed by the ${RUN_TIMEOUT}s timeout)" >&2
    echo "--- $name server log (tail) ---" >&2
    tail -n 20 "$log" >&2 || true
    status=1
  fi
  [[ -s "$json" ]] || die "no result from the $name run"
done

node "$LOAD/report.js" --out "$OUT_MD" --iogate-shards "$IOGATE_SHARDS" \
  --loadavg-before "$loadavg_before" --loadavg-after "$(cut -d' ' -f1-3 /proc/loadavg)" \
  --git-rev "$git_rev" --git-dirty "$git_dirty" \
  --iogate "$RESULTS_DIR/latest-iogate.json" --node "$RESULTS_DIR/latest-node.json" \
  --iogate-log "$RESULTS_DIR/latest-iogate.server.log" --node-log "$RESULTS_DIR/latest-node.server.log" \
  --iogate-bin "$IOGATE_BIN" || status=1
echo "run.sh: wrote $OUT_MD" >&2
exit "$status"
