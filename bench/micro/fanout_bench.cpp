// The in-process fan-out path: one broadcast to a room of N sockets, from the emit down to each
// connection's send (encode once, walk the room, hand the shared frame to every connection),
// without the kernel. Connections are in-memory (tests/support/memory_connection.h); items are
// deliveries, so the time per item is the user-space cost of one delivery.
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include "adapter/memory/memory_adapter.h"
#include "net/shard_pool.h"
#include "sio/server.h"
#include "support/memory_connection.h"

namespace {

using iogate::test_support::MemoryConnection;
namespace sio = iogate::sio;

void broadcast_to_room(benchmark::State& state) {
  const auto subscribers = static_cast<std::size_t>(state.range(0));
  iogate::net::ShardPool pool(1);
  sio::ServerOptions options;
  options.adapter = iogate::adapter::MemoryAdapter::factory();
  sio::Server io(pool, options);
  auto& nsp = io.of("/");
  nsp.on_connection([](sio::Socket& socket) { socket.join("room"); });
  std::vector<std::unique_ptr<MemoryConnection>> connections;
  for (std::size_t i = 0; i < subscribers; ++i) {
    connections.push_back(std::make_unique<MemoryConnection>(pool));
    connections.back()->open(io.engine().connection_factory());
    connections.back()->receive("0");
  }
  pool.context(0).poll();
  for (auto& connection : connections) {
    connection->clear_sent();  // the CONNECT answers
  }
  const boost::json::array message{boost::json::object{{"seq", 1}, {"text", "deploy finished"}}};
  // Measure only a path that delivers: every subscriber must get the first broadcast.
  nsp.to("room").emit("msg", sio::Payload{message});
  pool.context(0).poll();
  for (auto& connection : connections) {
    if (connection->sent().size() != 1) {
      state.SkipWithError("a subscriber did not get the broadcast");
      return;
    }
    connection->clear_sent();
  }
  for (auto _ : state) {
    nsp.to("room").emit("msg", sio::Payload{message});
    pool.context(0).poll();
    state.PauseTiming();
    for (auto& connection : connections) {
      connection->clear_sent();
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * subscribers));
}

BENCHMARK(broadcast_to_room)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
