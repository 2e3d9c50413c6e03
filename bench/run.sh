#!/usr/bin/env bash
# The side-by-side load benchmark, in one command: iogate (bench_server) against socket.io 4.8.4
# on its ws engine and on uWebSockets.js, and against the physical floor (bench_floor), driven by
# one C++ load generator (bench_loadgen). See bench/README.md.
#
#   bench/run.sh [--short|--full]
#
#   --full   (default) the published figures: large N, 3 repetitions, about 12 minutes on 2 cores;
#            writes bench/results/.
#   --short  small N, 1 repetition, under a minute; writes bench/results/short/. For CI: it fails
#            only when a server crashes or a run fails to connect, loses, duplicates or
#            misdelivers messages, or hangs — never on a figure.
#
# For each scenario the servers run interleaved (iogate, ws, uWS, floor, iogate, ws, …), each run
# on a fresh server process. Every run's JSON (the load generator's report plus the server's
# utime+stime and RSS from /proc before and after) goes to RESULTS_DIR/runs/; bench/report.js then
# writes RESULTS_DIR/latest.md (medians with min–max, ratios), summary.json, the plots and the
# machine's description.
#
# Environment: BUILD_DIR (build/release), BUILD_JOBS (nproc), RESULTS_DIR, REPS,
# SERVERS ("iogate socketio-ws socketio-uws floor"), IOGATE_THREADS (1: one core, like Node's
# one event loop), STARTUP_TIMEOUT (15 s).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"

MODE=full
case "${1:-}" in
  --short) MODE=short ;;
  --full | "") MODE=full ;;
  -h | --help) awk 'NR > 1 && /^#/ {print; next} NR > 1 {exit}' "$0"; exit 0 ;;
  *) echo "usage: bench/run.sh [--short|--full]" >&2; exit 2 ;;
esac

BUILD_DIR="${BUILD_DIR:-$ROOT/build/release}"
BUILD_JOBS="${BUILD_JOBS:-$(nproc)}"
SERVERS="${SERVERS:-iogate socketio-ws socketio-uws floor}"
IOGATE_THREADS="${IOGATE_THREADS:-1}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-15}"
if [[ "$MODE" == short ]]; then
  RESULTS_DIR="${RESULTS_DIR:-$HERE/results/short}"
else
  RESULTS_DIR="${RESULTS_DIR:-$HERE/results}"
fi

die() { echo "run.sh: error: $*" >&2; exit 1; }
note() { echo "run.sh: $*" >&2; }

for tool in cmake ninja node npm timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done

# --- build what the benchmark needs --------------------------------------------------------------
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
cmake --build "$BUILD_DIR" -j "$BUILD_JOBS" --target bench_server bench_loadgen bench_floor >&2
BIN="$BUILD_DIR/bin"
REF="$HERE/ref"
if [[ ! -d "$REF/node_modules/socket.io" || "$REF/package-lock.json" -nt "$REF/node_modules/.package-lock.json" ]]; then
  note "installing the reference servers (npm ci in bench/ref)"
  (cd "$REF" && timeout 600 npm ci --no-audit --no-fund >&2) || die "npm ci failed in $REF"
fi

# Each side holds one socket per connection.
hard_limit="$(ulimit -Hn)"
[[ "$hard_limit" == unlimited ]] && hard_limit=1048576
ulimit -n "$hard_limit" 2>/dev/null || true
fd_limit="$(ulimit -n)"

# --- the scenarios ---------------------------------------------------------------------------------
# name|load generator arguments|floor arguments (empty: the floor has no counterpart)
if [[ "$MODE" == short ]]; then
  REPS="${REPS:-1}"
  TIMEOUT_MS=60000
  idle_conns=200
  SCENARIOS=(
    "idle_200|idle --conns $idle_conns|"
    "connect_websocket_200|connect --conns 200|"
    "connect_polling_100|connect --transport polling --conns 100|"
    "connect_upgrade_100|connect --transport polling --upgrade --conns 100|"
    "fanout_200_inflight1|fanout --subs 200 --inflight 1 --broadcasts 300|send --conns 200 --rounds 300"
    "fanout_200_inflight8|fanout --subs 200 --inflight 8 --broadcasts 1000|writev --conns 200 --rounds 1000 --batch 8"
    "fanout_200_rate20k|fanout --subs 200 --rate 20000 --broadcasts 200|"
    "rooms_20x10|rooms --rooms 20 --size 10 --inflight 8 --broadcasts 1000|"
    "echo_50|echo --conns 50 --messages 20000|echo --conns 50 --messages 20000"
  )
else
  REPS="${REPS:-3}"
  TIMEOUT_MS=300000
  idle_conns=$(( fd_limit - 1000 < 19000 ? fd_limit - 1000 : 19000 ))
  SCENARIOS=(
    "idle_${idle_conns}|idle --conns $idle_conns --settle-ms 2000|"
    "connect_websocket_5000|connect --conns 5000|"
    "connect_polling_2000|connect --transport polling --conns 2000|"
    "connect_upgrade_2000|connect --transport polling --upgrade --conns 2000|"
    "fanout_1000_inflight1|fanout --subs 1000 --inflight 1 --broadcasts 300|send --conns 1000 --rounds 300"
    "fanout_1000_inflight8|fanout --subs 1000 --inflight 8 --broadcasts 800|writev --conns 1000 --rounds 800 --batch 8"
    "fanout_10000_inflight1|fanout --subs 10000 --inflight 1 --broadcasts 30|send --conns 10000 --rounds 30"
    "fanout_10000_inflight8|fanout --subs 10000 --inflight 8 --broadcasts 80|writev --conns 10000 --rounds 80 --batch 8"
    "fanout_10000_rate20k|fanout --subs 10000 --rate 20000 --broadcasts 20|"
    "rooms_500x10|rooms --rooms 500 --size 10 --inflight 8 --broadcasts 2000|"
    "echo_200|echo --conns 200 --messages 50000|echo --conns 200 --messages 50000"
  )
fi
(( idle_conns + 100 <= fd_limit )) || die "ulimit -n is $fd_limit: too low for $idle_conns connections"
RUN_CAP_S=$(( TIMEOUT_MS / 1000 + 60 ))  # outer bound on one run; the load generator has its own

mkdir -p "$RESULTS_DIR/runs"
rm -f "$RESULTS_DIR"/runs/*
WORK="$(mktemp -d "${TMPDIR:-/tmp}/iogate-bench.XXXXXX")"

SERVER_PID=""
# Stops the server and sets SERVER_END to how it ended: "ok", "killed" (it ignored SIGTERM for
# 5 s) or "crashed <status>". In this shell, not a subshell: only the parent can wait for it.
stop_server() {
  local pid="$1" status=0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    SERVER_END=killed
    return
  fi
  wait "$pid" 2>/dev/null || status=$?
  # 143: SIGTERM itself ended it, which is how a server without a handler stops.
  if (( status == 0 || status == 143 )); then SERVER_END=ok; else SERVER_END="crashed $status"; fi
}
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    stop_server "$SERVER_PID"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME LOG: sets SERVER_PID and SERVER_PORT.
start_server() {
  local name="$1" log="$2"
  case "$name" in
    iogate) "$BIN/bench_server" --port 0 --threads "$IOGATE_THREADS" >"$log" 2>&1 & ;;
    socketio-ws) node "$REF/ws_server.js" --port 0 >"$log" 2>&1 & ;;
    socketio-uws) node "$REF/uws_server.js" --port 0 >"$log" 2>&1 & ;;
    *) die "unknown server $name" ;;
  esac
  SERVER_PID=$!
  SERVER_PORT=""
  local deadline=$(( $(date +%s) + STARTUP_TIMEOUT ))
  while [[ -z "$SERVER_PORT" ]]; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; die "$name exited during startup"; }
    (( $(date +%s) <= deadline )) || { cat "$log" >&2; die "$name printed no listening line in ${STARTUP_TIMEOUT}s"; }
    SERVER_PORT="$(sed -n 's/.* listening on port \([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)"
    [[ -n "$SERVER_PORT" ]] || sleep 0.05
  done
}

# A process's utime, stime (clock ticks) and VmRSS (KiB), as a JSON object.
process_sample() {
  local pid="$1" stat fields rss
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || { echo null; return; }
  read -ra fields <<<"${stat##*) }"  # fields from the state (3rd) on: utime is the 14th
  rss="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)"
  echo "{\"utime_ticks\":${fields[11]},\"stime_ticks\":${fields[12]},\"rss_kib\":${rss:-0}}"
}

# The whole machine's CPU time (ticks, all cores) from /proc/stat: processes (user, nice, system,
# steal), interrupts (irq, softirq: loopback TCP lands there too) and the total.
machine_sample() {
  awk '/^cpu / {processes = $2 + $3 + $4 + $9; interrupts = $7 + $8; total = processes + interrupts + $5 + $6;
                printf "{\"process_ticks\":%d,\"interrupt_ticks\":%d,", processes, interrupts;
                printf "\"total_ticks\":%d}", total}' /proc/stat
}

now_s() { date +%s.%N; }

failures=0
run_once() {
  local scenario="$1" loadgen_args="$2" floor_args="$3" server="$4" rep="$5"
  local base="$RESULTS_DIR/runs/$scenario--$server--$rep"
  local out="$WORK/out.json" err="$WORK/err.log" server_log="$WORK/server.log"
  local rc=0 ended="ok" command before after machine_before machine_after start end
  : >"$out"
  if [[ "$server" == floor ]]; then
    [[ -n "$floor_args" ]] || return 0
    command="bench_floor $floor_args"
    machine_before="$(machine_sample)"; start="$(now_s)"
    # shellcheck disable=SC2086 # the arguments are words on purpose
    timeout --kill-after=5 "$RUN_CAP_S" "$BIN/bench_floor" $floor_args >"$out" 2>"$err" || rc=$?
    end="$(now_s)"; machine_after="$(machine_sample)"
    before=null; after=null
  else
    start_server "$server" "$server_log"
    command="bench_loadgen $loadgen_args"
    before="$(process_sample "$SERVER_PID")"
    machine_before="$(machine_sample)"; start="$(now_s)"
    # shellcheck disable=SC2086
    timeout --kill-after=5 "$RUN_CAP_S" "$BIN/bench_loadgen" $loadgen_args --port "$SERVER_PORT" \
      --server-pid "$SERVER_PID" --timeout-ms "$TIMEOUT_MS" </dev/null >"$out" 2>"$err" || rc=$?
    end="$(now_s)"; machine_after="$(machine_sample)"
    after="$(process_sample "$SERVER_PID")"
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      stop_server "$SERVER_PID"
      ended="$SERVER_END"
    else
      local status=0
      wait "$SERVER_PID" 2>/dev/null || status=$?
      ended="died during the run (status $status)"
    fi
    SERVER_PID=""
  fi
  local result
  result="$(cat "$out")"
  [[ -n "$result" ]] || result=null
  printf '{"scenario":"%s","server":"%s","rep":%d,"mode":"%s","command":"%s","exit_code":%d,"server_end":"%s",' \
    "$scenario" "$server" "$rep" "$MODE" "$command" "$rc" "$ended" >"$base.json"
  printf '"wall_start_s":%s,"wall_end_s":%s,"server_process":{"before":%s,"after":%s},' \
    "$start" "$end" "$before" "$after" >>"$base.json"
  printf '"machine_cpu":{"before":%s,"after":%s},"clock_ticks_per_s":%d,"result":%s}\n' \
    "$machine_before" "$machine_after" "$(getconf CLK_TCK)" "$result" >>"$base.json"
  if (( rc != 0 )) || [[ "$ended" != ok && "$ended" != killed ]]; then
    failures=$(( failures + 1 ))
    note "FAILED: $scenario on $server (rep $rep): exit $rc, server $ended; logs in $base.*.log"
    cp "$err" "$base.loadgen.log"
    [[ "$server" == floor ]] || cp "$server_log" "$base.server.log"
  else
    [[ "$ended" == killed ]] && note "warning: $server ignored SIGTERM for 5 s after $scenario"
    note "$scenario on $server (rep $rep): done in $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}') s"
  fi
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "mode: $MODE, repetitions: $REPS, iogate threads: $IOGATE_THREADS"
  echo "git: $(git -C "$ROOT" log -1 --format='%h %cI' 2>/dev/null || echo '?')"
  echo "uncommitted changes under src/: $(git -C "$ROOT" status --porcelain -- src 2>/dev/null | wc -l)"
  echo "kernel: $(uname -srvm)"
  echo "nproc: $(nproc)"
  echo "memory: $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "file descriptor limit: $fd_limit"
  echo "node: $(node --version)"
  echo "socket.io: $(node -p "require('$REF/node_modules/socket.io/package.json').version")"
  echo "uWebSockets.js: $(node -p "require('$REF/node_modules/@trufflesuite/uws-js-unofficial/package.json').version")"
  compiler="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")"
  echo "compiler: $compiler $("$compiler" -dumpfullversion 2>/dev/null)"
  echo "build type: $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")"
  echo
  lscpu
} >"$RESULTS_DIR/machine.txt"

note "$MODE mode: ${#SCENARIOS[@]} scenarios × $REPS repetitions × ($SERVERS); results in $RESULTS_DIR"
for entry in "${SCENARIOS[@]}"; do
  IFS='|' read -r scenario loadgen_args floor_args <<<"$entry"
  for rep in $(seq 1 "$REPS"); do
    for server in $SERVERS; do
      run_once "$scenario" "$loadgen_args" "$floor_args" "$server" "$rep"
    done
  done
done

node "$HERE/report.js" --results "$RESULTS_DIR" || die "report.js failed"
if command -v gnuplot >/dev/null; then
  (cd "$RESULTS_DIR" && gnuplot plots.gp) || die "gnuplot failed"
else
  note "gnuplot not found: wrote $RESULTS_DIR/plots.gp and its data, but no PNG (apt-get install gnuplot-nox)"
fi
note "wrote $RESULTS_DIR/latest.md"
if (( failures > 0 )); then
  die "$failures run(s) failed (crash, lost or duplicated messages, failed connections or timeout)"
fi
