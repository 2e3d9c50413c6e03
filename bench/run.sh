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
# on a fresh server process. The cluster scenarios (cluster_*) start, per run, a redis-server of
# their own on a free 127.0.0.1 port and two nodes of the same server on it (A holds the
# publisher and half the subscribers, B the other half), and stop all three afterwards. Every
# run's JSON (the load generator's report plus the server's utime+stime and RSS from /proc before
# and after) goes to RESULTS_DIR/runs/; bench/report.js then
# writes RESULTS_DIR/latest.md (medians with min–max, ratios), summary.json, the plots and the
# machine's description.
#
# Environment: BUILD_DIR (build/release), BUILD_JOBS (nproc), RESULTS_DIR, REPS,
# SERVERS ("iogate socketio-ws socketio-uws floor"), SCENARIOS (every one; else a space-separated
# list of names or glob patterns, e.g. "cluster_*"), IOGATE_THREADS (1: one core, like Node's
# one event loop), STARTUP_TIMEOUT (15 s), REDIS_SERVER (/usr/bin/redis-server).
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
SCENARIO_FILTER="${SCENARIOS:-*}"
REDIS_SERVER="${REDIS_SERVER:-/usr/bin/redis-server}"
CLUSTER_KEY=bench  # the cluster's channel prefix (--redis-key on every server)
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
# name|load generator arguments|floor arguments (empty: the floor has no counterpart). A name
# starting with cluster_ runs on two nodes and Redis (the load generator gets --port2 and the pids).
if [[ "$MODE" == short ]]; then
  REPS="${REPS:-1}"
  TIMEOUT_MS=60000
  idle_conns=200
  ALL_SCENARIOS=(
    "idle_200|idle --conns $idle_conns|"
    "connect_websocket_200|connect --conns 200|"
    "connect_polling_100|connect --transport polling --conns 100|"
    "connect_upgrade_100|connect --transport polling --upgrade --conns 100|"
    "fanout_200_inflight1|fanout --subs 200 --inflight 1 --broadcasts 300|send --conns 200 --rounds 300"
    "fanout_200_inflight8|fanout --subs 200 --inflight 8 --broadcasts 1000|writev --conns 200 --rounds 1000 --batch 8"
    "fanout_200_rate20k|fanout --subs 200 --rate 20000 --broadcasts 200|"
    "rooms_20x10|rooms --rooms 20 --size 10 --inflight 8 --broadcasts 1000|"
    "echo_50|echo --conns 50 --messages 20000|echo --conns 50 --messages 20000"
    "cluster_200_inflight8|fanout --subs 200 --inflight 8 --broadcasts 1000|"
  )
else
  REPS="${REPS:-3}"
  TIMEOUT_MS=300000
  idle_conns=$(( fd_limit - 1000 < 19000 ? fd_limit - 1000 : 19000 ))
  ALL_SCENARIOS=(
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
    "cluster_2000_inflight1|fanout --subs 2000 --inflight 1 --broadcasts 300|"
    "cluster_2000_inflight8|fanout --subs 2000 --inflight 8 --broadcasts 800|"
  )
fi
# SCENARIOS (the environment) selects some of them by name or glob pattern.
SELECTED=()
read -ra patterns <<<"$SCENARIO_FILTER"  # words, not globbed against files
for entry in "${ALL_SCENARIOS[@]}"; do
  for pattern in "${patterns[@]}"; do
    # shellcheck disable=SC2053 # the pattern is a glob on purpose
    if [[ "${entry%%|*}" == $pattern ]]; then
      SELECTED+=("$entry")
      break
    fi
  done
done
(( ${#SELECTED[@]} > 0 )) || die "SCENARIOS=\"$SCENARIO_FILTER\" selects none of: $(printf '%s ' "${ALL_SCENARIOS[@]%%|*}")"
if printf '%s\n' "${SELECTED[@]}" | grep -q '^cluster_'; then
  [[ -x "$REDIS_SERVER" ]] || die "$REDIS_SERVER not found: the cluster scenarios need redis-server (apt-get install redis-server)"
  command -v redis-cli >/dev/null || die "redis-cli not found (apt-get install redis-tools)"
fi
(( idle_conns + 100 <= fd_limit )) || die "ulimit -n is $fd_limit: too low for $idle_conns connections"
RUN_CAP_S=$(( TIMEOUT_MS / 1000 + 60 ))  # outer bound on one run; the load generator has its own

mkdir -p "$RESULTS_DIR/runs"
rm -f "$RESULTS_DIR"/runs/*
WORK="$(mktemp -d "${TMPDIR:-/tmp}/iogate-bench.XXXXXX")"

SERVER_PID=""   # the server (node A in a cluster run)
SERVER2_PID=""  # node B in a cluster run
REDIS_PID=""    # the cluster run's redis-server
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
  local pid
  for pid in "$SERVER_PID" "$SERVER2_PID" "$REDIS_PID"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      stop_server "$pid"
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME LOG [VAR [ARGS...]]: sets ${VAR}_PID and ${VAR}_PORT (VAR: SERVER by
# default); ARGS go to the server (the cluster's --redis-url and --redis-key).
start_server() {
  local name="$1" log="$2" var="${3:-SERVER}"
  shift $(( $# < 3 ? $# : 3 ))
  case "$name" in
    iogate) "$BIN/bench_server" --port 0 --threads "$IOGATE_THREADS" "$@" >"$log" 2>&1 & ;;
    socketio-ws) node "$REF/ws_server.js" --port 0 "$@" >"$log" 2>&1 & ;;
    socketio-uws) node "$REF/uws_server.js" --port 0 "$@" >"$log" 2>&1 & ;;
    *) die "unknown server $name" ;;
  esac
  local pid=$! port=""
  printf -v "${var}_PID" '%s' "$pid"
  local deadline=$(( $(date +%s) + STARTUP_TIMEOUT ))
  while [[ -z "$port" ]]; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$name exited during startup"; }
    (( $(date +%s) <= deadline )) || { cat "$log" >&2; die "$name printed no listening line in ${STARTUP_TIMEOUT}s"; }
    port="$(sed -n 's/.* listening on port \([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)"
    [[ -n "$port" ]] || sleep 0.05
  done
  printf -v "${var}_PORT" '%s' "$port"
}

redis() { timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" 2>/dev/null | tr -d '\r'; }

# start_redis LOG: a redis-server of this run's own, no persistence, on a free 127.0.0.1 port
# (a random one, retried when taken); sets REDIS_PID and REDIS_PORT.
start_redis() {
  local log="$1" attempt deadline
  for attempt in 1 2 3 4 5; do
    REDIS_PORT=$(( 20000 + RANDOM % 30000 ))
    "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
      --dir "$WORK" --logfile "" >"$log" 2>&1 &
    REDIS_PID=$!
    deadline=$(( $(date +%s) + STARTUP_TIMEOUT ))
    while kill -0 "$REDIS_PID" 2>/dev/null && (( $(date +%s) <= deadline )); do
      # Ours answering, not another redis-server that already held the port.
      if redis info server | grep -qx "process_id:$REDIS_PID"; then
        return 0
      fi
      sleep 0.05
    done
    stop_server "$REDIS_PID"
    REDIS_PID=""
    note "redis-server did not start on port $REDIS_PORT (attempt $attempt): $(tail -n 1 "$log")"
  done
  die "redis-server did not start (log: $(tail -n 3 "$log" | tr '\n' ' '))"
}

# wait_cluster NAME COUNT: until COUNT nodes subscribe to the cluster's request channel of "/"
# (each node subscribes to it right after the broadcast pattern, on the same connection, so
# Redis has taken both by then).
wait_cluster() {
  local name="$1" count="$2" deadline=$(( $(date +%s) + STARTUP_TIMEOUT )) subscribed
  while :; do
    subscribed="$(redis pubsub numsub "$CLUSTER_KEY-request#/#" | sed -n 2p)"
    (( ${subscribed:-0} >= count )) && return 0
    (( $(date +%s) <= deadline )) || die "$name: $count nodes not subscribed in Redis after ${STARTUP_TIMEOUT}s (${subscribed:-0})"
    sleep 0.05
  done
}

# finish_server VAR: stops ${VAR}_PID if it still runs, clears it and sets ENDED to how it ended.
finish_server() {
  local var="$1_PID" status=0
  local pid="${!var}"
  if kill -0 "$pid" 2>/dev/null; then
    stop_server "$pid"
    ENDED="$SERVER_END"
  else
    wait "$pid" 2>/dev/null || status=$?
    ENDED="died during the run (status $status)"
  fi
  printf -v "$var" '%s' ""
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
  local cluster_json="" server2_log="$WORK/server2.log" redis_log="$WORK/redis.log"
  : >"$out"
  if [[ "$server" == floor ]]; then
    [[ -n "$floor_args" ]] || return 0
    command="bench_floor $floor_args"
    machine_before="$(machine_sample)"; start="$(now_s)"
    # shellcheck disable=SC2086 # the arguments are words on purpose
    timeout --kill-after=5 "$RUN_CAP_S" "$BIN/bench_floor" $floor_args >"$out" 2>"$err" || rc=$?
    end="$(now_s)"; machine_after="$(machine_sample)"
    before=null; after=null
  elif [[ "$scenario" == cluster_* ]]; then
    start_redis "$redis_log"
    local url="redis://127.0.0.1:$REDIS_PORT" ended_a ended_b ended_redis
    start_server "$server" "$server_log" SERVER --redis-url "$url" --redis-key "$CLUSTER_KEY"
    start_server "$server" "$server2_log" SERVER2 --redis-url "$url" --redis-key "$CLUSTER_KEY"
    wait_cluster "$server" 2
    command="bench_loadgen $loadgen_args (cluster: 2 nodes + redis-server)"
    before="$(process_sample "$SERVER_PID")"
    local before_b before_redis after_b after_redis
    before_b="$(process_sample "$SERVER2_PID")"; before_redis="$(process_sample "$REDIS_PID")"
    machine_before="$(machine_sample)"; start="$(now_s)"
    # shellcheck disable=SC2086
    timeout --kill-after=5 "$RUN_CAP_S" "$BIN/bench_loadgen" $loadgen_args --port "$SERVER_PORT" \
      --port2 "$SERVER2_PORT" --server-pid "$SERVER_PID" --server2-pid "$SERVER2_PID" --redis-pid "$REDIS_PID" \
      --timeout-ms "$TIMEOUT_MS" </dev/null >"$out" 2>"$err" || rc=$?
    end="$(now_s)"; machine_after="$(machine_sample)"
    after="$(process_sample "$SERVER_PID")"
    after_b="$(process_sample "$SERVER2_PID")"; after_redis="$(process_sample "$REDIS_PID")"
    finish_server SERVER2; ended_b="$ENDED"
    finish_server SERVER; ended_a="$ENDED"
    finish_server REDIS; ended_redis="$ENDED"
    ended="$ended_a"
    [[ "$ended" == ok || "$ended" == killed ]] && [[ "$ended_b" != ok ]] && ended="node B $ended_b"
    [[ "$ended" == ok || "$ended" == killed ]] && [[ "$ended_redis" != ok ]] && ended="redis-server $ended_redis"
    cluster_json="\"cluster_processes\":{\"node_b\":{\"before\":$before_b,\"after\":$after_b},"
    cluster_json+="\"redis\":{\"before\":$before_redis,\"after\":$after_redis}},"
    cluster_json+="\"cluster_end\":{\"node_a\":\"$ended_a\",\"node_b\":\"$ended_b\",\"redis\":\"$ended_redis\"},"
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
  printf '%s"machine_cpu":{"before":%s,"after":%s},"clock_ticks_per_s":%d,"result":%s}\n' \
    "$cluster_json" "$machine_before" "$machine_after" "$(getconf CLK_TCK)" "$result" >>"$base.json"
  if (( rc != 0 )) || [[ "$ended" != ok && "$ended" != killed ]]; then
    failures=$(( failures + 1 ))
    note "FAILED: $scenario on $server (rep $rep): exit $rc, server $ended; logs in $base.*.log"
    cp "$err" "$base.loadgen.log"
    [[ "$server" == floor ]] || cp "$server_log" "$base.server.log"
    if [[ "$scenario" == cluster_* && "$server" != floor ]]; then
      cp "$server2_log" "$base.server2.log" 2>/dev/null || true
      cp "$redis_log" "$base.redis.log" 2>/dev/null || true
    fi
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
  echo "@socket.io/redis-adapter: $(node -p "require('$REF/node_modules/@socket.io/redis-adapter/package.json').version")"
  echo "node-redis: $(node -p "require('$REF/node_modules/redis/package.json').version")"
  echo "redis-server: $("$REDIS_SERVER" --version 2>/dev/null || echo 'not installed')"
  compiler="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")"
  echo "compiler: $compiler $("$compiler" -dumpfullversion 2>/dev/null)"
  echo "build type: $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")"
  echo
  lscpu
} >"$RESULTS_DIR/machine.txt"

note "$MODE mode: ${#SELECTED[@]} scenarios × $REPS repetitions × ($SERVERS); results in $RESULTS_DIR"
for entry in "${SELECTED[@]}"; do
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
