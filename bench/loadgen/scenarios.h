#pragma once
// The load generator's scenarios. Each runs to completion on one thread, bounded by
// Options::timeout, and returns its report; errors (failed connections, lost, duplicated or
// misdelivered messages, timeouts) are listed in the report's "errors" and make "ok" false.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "connection.h"
#include "measure.h"

namespace loadgen {

struct Options {
  ServerAddress server;
  std::optional<pid_t> server_pid;  // sampled from /proc at the edges of each measured window
  std::size_t batch = 200;          // handshakes in flight while connecting
  std::chrono::milliseconds timeout{120'000};  // wall-time cap on the whole run
  std::chrono::milliseconds drain{5'000};      // no progress for that long: the rest is lost
  std::size_t pad_bytes = 33;       // makes a delivered `msg` frame about 80 bytes
  // idle, connect, echo
  std::size_t conns = 100;
  // idle
  std::chrono::milliseconds settle{1'000};  // before reading the server's RSS
  std::chrono::milliseconds hold{0};        // keep the connections open that long after READY
  bool wait_stdin = false;                  // ... or until standard input closes
  // connect
  bool polling = false;
  bool upgrade = false;
  // fanout
  std::size_t subs = 100;
  std::size_t inflight = 1;
  std::size_t broadcasts = 1'000;
  double rate = 0;  // offered deliveries/s; 0: closed loop with `inflight` broadcasts outstanding
  std::optional<std::size_t> warmup;  // unmeasured broadcasts first (default: a tenth, at most 100)
  // fanout across a cluster (the scenario is then "cluster_fanout"): a second node of the same
  // cluster on `port2` takes the share `split` of the subscribers; the publisher stays on the
  // first. The second node's and Redis's CPU are measured too when their pids are given.
  std::uint16_t port2 = 0;
  double split = 0.5;
  std::optional<pid_t> server2_pid;
  std::optional<pid_t> redis_pid;
  // rooms
  std::size_t rooms = 50;
  std::size_t room_size = 10;
  // echo
  std::size_t messages = 10'000;
};

// The processes besides the server that the windows measure (cluster: node B, redis-server).
std::vector<WatchedProcess> watched_processes(const Options& options);

boost::json::object run_idle(const Options& options);
boost::json::object run_connect(const Options& options);
boost::json::object run_fanout(const Options& options);
boost::json::object run_rooms(const Options& options);
boost::json::object run_echo(const Options& options);

}  // namespace loadgen
