// loadgen: a Socket.IO load generator for the side-by-side benchmark (bench/run.sh). One
// thread, one epoll loop, standard Engine.IO 4 / Socket.IO 5 over WebSocket (and HTTP
// long-polling for the handshake scenario), loopback only. Prints one JSON report on stdout;
// exits 1 when the report lists errors (failed connections, lost or duplicated messages,
// timeouts), 2 on bad usage.
//
//   loadgen idle    --port P --conns N [--hold-ms H | --wait-stdin]
//   loadgen connect --port P --conns N [--transport websocket|polling] [--upgrade]
//   loadgen fanout  --port P --subs N --inflight K --broadcasts B [--rate R]
//                   [--port2 P2 [--split F] [--server2-pid PID] [--redis-pid PID]]
//                   (with --port2: across a two-node cluster, reported as "cluster_fanout")
//   loadgen rooms   --port P --rooms R --size S --inflight K --broadcasts B
//   loadgen echo    --port P --conns C --messages M
#include <sys/resource.h>

#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>

#include "scenarios.h"

namespace {

// Tens of thousands of sockets need the hard limit, not the usual soft 1024.
void raise_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::size_t file_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<std::size_t>(limit.rlim_cur);
}

}  // namespace

int main(int argc, char** argv) {
  loadgen::Options options;
  std::uint64_t timeout_ms = static_cast<std::uint64_t>(options.timeout.count());
  std::uint64_t drain_ms = static_cast<std::uint64_t>(options.drain.count());
  std::uint64_t settle_ms = static_cast<std::uint64_t>(options.settle.count());
  std::uint64_t hold_ms = 0;
  std::size_t warmup = 0;
  pid_t server_pid = 0;
  pid_t server2_pid = 0;
  pid_t redis_pid = 0;
  std::string transport = "websocket";

  CLI::App cli{"Socket.IO load generator (one thread, epoll); prints a JSON report"};
  cli.require_subcommand(1);
  auto add_common = [&](CLI::App* scenario) {
    scenario->add_option("--host", options.server.host, "server address (IPv4)");
    scenario->add_option("--port", options.server.port, "server port")->required();
    scenario->add_option("--server-pid", server_pid, "server process: its CPU and RSS are read from /proc");
    scenario->add_option("--batch", options.batch, "handshakes in flight while connecting")->check(CLI::PositiveNumber);
    scenario->add_option("--timeout-ms", timeout_ms, "wall-time cap on the whole run");
    scenario->add_option("--drain-ms", drain_ms, "no progress for that long: the missing messages are lost");
    scenario->add_option("--pad-bytes", options.pad_bytes, "padding in every payload");
  };
  auto* idle = cli.add_subcommand("idle", "N idle connections: server RSS per connection, CPU per connect");
  add_common(idle);
  idle->add_option("--conns", options.conns, "connections")->check(CLI::PositiveNumber);
  idle->add_option("--settle-ms", settle_ms, "pause before reading the server's RSS");
  idle->add_option("--hold-ms", hold_ms, "after READY (on stderr), keep the connections open that long");
  idle->add_flag("--wait-stdin", options.wait_stdin, "after READY, keep them open until standard input closes");

  auto* connect = cli.add_subcommand("connect", "handshake rate: N connections to \"/\"");
  add_common(connect);
  connect->add_option("--conns", options.conns, "connections")->check(CLI::PositiveNumber);
  connect->add_option("--transport", transport, "websocket or polling")->check(CLI::IsMember({"websocket", "polling"}));
  connect->add_flag("--upgrade", options.upgrade, "polling: then upgrade to WebSocket (probe, upgrade)");

  auto* fanout = cli.add_subcommand("fanout", "one publisher, N subscribers in room \"bench\"");
  add_common(fanout);
  fanout->add_option("--subs", options.subs, "subscribers")->check(CLI::PositiveNumber);
  fanout->add_option("--inflight", options.inflight, "closed loop: broadcasts outstanding")->check(CLI::PositiveNumber);
  fanout->add_option("--broadcasts", options.broadcasts, "measured broadcasts")->check(CLI::PositiveNumber);
  fanout->add_option("--rate", options.rate, "open loop at this many offered deliveries/s (no acks)");
  auto* fanout_warmup = fanout->add_option("--warmup", warmup, "unmeasured broadcasts first (default B/10, ≤ 100)");
  fanout->add_option("--port2", options.port2,
                     "a second node of the same cluster: it takes --split of the subscribers, the publisher "
                     "stays on --port");
  fanout->add_option("--split", options.split, "with --port2: the share of subscribers on the second node")
      ->check(CLI::Range(0.0, 1.0));
  fanout->add_option("--server2-pid", server2_pid, "with --port2: the second node's process (CPU from /proc)");
  fanout->add_option("--redis-pid", redis_pid, "with --port2: redis-server's process (CPU from /proc)");

  auto* rooms = cli.add_subcommand("rooms", "R rooms of S: one-room, multi-room and except broadcasts");
  add_common(rooms);
  rooms->add_option("--rooms", options.rooms, "rooms")->check(CLI::PositiveNumber);
  rooms->add_option("--size", options.room_size, "subscribers per room")->check(CLI::PositiveNumber);
  rooms->add_option("--inflight", options.inflight, "closed loop: broadcasts outstanding")->check(CLI::PositiveNumber);
  rooms->add_option("--broadcasts", options.broadcasts, "measured broadcasts per phase")->check(CLI::PositiveNumber);
  auto* rooms_warmup = rooms->add_option("--warmup", warmup, "unmeasured broadcasts first (default B/10, ≤ 100)");

  auto* echo = cli.add_subcommand("echo", "C connections, each with one echo(payload, ack) outstanding");
  add_common(echo);
  echo->add_option("--conns", options.conns, "connections")->check(CLI::PositiveNumber);
  echo->add_option("--messages", options.messages, "measured round trips in all")->check(CLI::PositiveNumber);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return cli.exit(error) == 0 ? 0 : 2;
  }
  options.timeout = std::chrono::milliseconds(timeout_ms);
  options.drain = std::chrono::milliseconds(drain_ms);
  options.settle = std::chrono::milliseconds(settle_ms);
  options.hold = std::chrono::milliseconds(hold_ms);
  options.polling = transport == "polling";
  if (server_pid > 0) {
    options.server_pid = server_pid;
  }
  if (server2_pid > 0) {
    options.server2_pid = server2_pid;
  }
  if (redis_pid > 0) {
    options.redis_pid = redis_pid;
  }
  if (fanout_warmup->count() > 0 || rooms_warmup->count() > 0) {
    options.warmup = warmup;
  }

  raise_file_limit();
  const std::string selected = cli.get_subcommands().front()->get_name();
  // Sockets the scenario opens (a polling session that upgrades holds two), plus stdio and epoll.
  std::size_t needed = selected == "fanout" ? options.subs + 1
                       : selected == "rooms" ? options.rooms * options.room_size + 1
                       : options.conns * (options.upgrade ? 2 : 1);
  if (needed + 16 > file_limit()) {
    std::fprintf(stderr, "loadgen: %zu sockets needed but RLIMIT_NOFILE is %zu\n", needed, file_limit());
    return 2;
  }

  boost::json::object report;
  try {
    if (selected == "idle") {
      report = loadgen::run_idle(options);
    } else if (selected == "connect") {
      report = loadgen::run_connect(options);
    } else if (selected == "fanout") {
      report = loadgen::run_fanout(options);
    } else if (selected == "rooms") {
      report = loadgen::run_rooms(options);
    } else {
      report = loadgen::run_echo(options);
    }
  } catch (const std::exception& error) {
    report = {{"scenario", selected}, {"errors", boost::json::array{error.what()}}, {"error_count", 1}, {"ok", false}};
  }
  std::puts(boost::json::serialize(report).c_str());
  return report.at("ok").as_bool() ? 0 : 1;
}
