// The benchmark application on iogate: the same four events as bench/ref/app.js, so the load
// generator drives iogate and the Node references alike.
//   join(room, ack)                         joins, acks "joined"
//   broadcast(rooms, payload, ack?)         io.to(rooms).emit("msg", payload), acks "sent"
//   broadcast_except(rooms, except, payload, ack?)
//                                           io.to(rooms).except(except).emit("msg", payload)
//   echo(payload, ack)                      acks with the payload
// `rooms` and `except` are a room name or an array of room names.
//
// In memory by default; with --redis-url it joins a classic Redis cluster (the wire of
// @socket.io/redis-adapter's createAdapter, channel prefix --redis-key), as bench/ref's servers
// do with the same flags: the cluster scenario of bench/run.sh.
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "adapter/memory/memory_adapter.h"
#include "adapter/redis/cluster.h"
#include "net/listener.h"
#include "net/shard_pool.h"
#include "sio/server.h"

using namespace iogate;
namespace json = boost::json;

namespace {

std::vector<std::string> room_names(const json::value& value) {
  std::vector<std::string> rooms;
  if (value.is_string()) {
    rooms.emplace_back(value.as_string());
  } else if (const auto* array = value.if_array()) {
    for (const auto& room : *array) {
      if (room.is_string()) {
        rooms.emplace_back(room.as_string());
      }
    }
  }
  return rooms;
}

// Re-emits args[payload_index] to the selection as "msg": the delivered frame carries exactly
// the payload the publisher sent.
void emit_msg(const sio::BroadcastOperator& target, sio::Event& event, std::size_t payload_index) {
  sio::Payload payload;
  if (payload_index < event.payload.args.size()) {
    payload.args.push_back(std::move(event.payload.args[payload_index]));
  }
  target.emit("msg", std::move(payload));
  if (event.wants_ack()) {
    event.ack(json::array{"sent"});
  }
}

// Namespace-wide handlers: held once, not once per connection.
void register_bench_events(sio::Namespace& nsp) {
  nsp.on("join", [](sio::Socket& s, sio::Event& event) {
    if (!event.payload.args.empty()) {
      s.join(room_names(event.payload.args[0]));
    }
    if (event.wants_ack()) {
      event.ack(json::array{"joined"});
    }
  });
  nsp.on("broadcast", [](sio::Socket& s, sio::Event& event) {
    const auto& args = event.payload.args;
    auto rooms = args.empty() ? std::vector<std::string>{} : room_names(args[0]);
    emit_msg(s.nsp().selection().to(rooms), event, 1);
  });
  nsp.on("broadcast_except", [](sio::Socket& s, sio::Event& event) {
    const auto& args = event.payload.args;
    if (args.size() < 2) {
      return;
    }
    emit_msg(s.nsp().selection().to(room_names(args[0])).except(room_names(args[1])), event, 2);
  });
  nsp.on("echo", [](sio::Socket&, sio::Event& event) {
    if (event.wants_ack()) {
      event.ack(std::move(event.payload));
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"iogate benchmark server"};
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t threads = 1;
  std::string redis_url;
  std::string redis_key = "socket.io";
  cli.add_option("--host", host, "address to listen on");
  cli.add_option("--port", port, "TCP port (0: any free port)");
  cli.add_option("--threads", threads, "event loops (0: one per core)");
  cli.add_option("--redis-url", redis_url, "join a classic Redis cluster through this Redis (empty: in memory)");
  cli.add_option("--redis-key", redis_key, "the cluster's channel prefix");
  CLI11_PARSE(cli, argc, argv);

  net::ShardPool pool(threads);
  sio::ServerOptions options;
  options.adapter = adapter::MemoryAdapter::factory();
  // Declared before the server: it must outlive it.
  std::unique_ptr<adapter::redis::Cluster> cluster;
  if (!redis_url.empty()) {
    std::string error;
    auto endpoint = redis::parse_url(redis_url, &error);
    if (!endpoint) {
      std::fprintf(stderr, "--redis-url: %s\n", error.c_str());
      return 2;
    }
    cluster = std::make_unique<adapter::redis::Cluster>(
        pool.context(0), adapter::redis::ClusterOptions{.endpoint = *endpoint, .key = redis_key});
    cluster->on_state([&cluster](bool connected) {
      if (connected) {
        std::fprintf(stderr, "redis connected\n");
      } else {
        std::fprintf(stderr, "redis away: %s\n", cluster->last_error().c_str());
      }
    });
    options.adapter = cluster->factory();
  }
  sio::Server io(pool, options);
  register_bench_events(io.of("/"));

  net::HttpContext http{pool, {}, {}};
  http.router.add(io.engine().options().path, &io.engine());
  net::Listener listener(http);
  try {
    port = listener.listen(host, port);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cannot listen: %s\n", error.what());
    return 1;
  }
  listener.start();
  if (cluster) {
    cluster->start();
  }
  std::printf("iogate listening on port %u\n", static_cast<unsigned>(port));
  std::fflush(stdout);

  io.run_until_signal(listener);
  return 0;
}
