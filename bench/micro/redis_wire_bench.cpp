// The Redis adapter's per-broadcast codec work: encoding a broadcast as Node's adapter publishes
// it, and decoding one from another node (or the emitter).
#include <string>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include "adapter/redis/wire.h"

namespace {

namespace redis = iogate::adapter::redis;

iogate::sio::Packet room_message() {
  return iogate::sio::Packet{
      .type = iogate::sio::PacketType::event,
      .nsp = "/admin",
      .id = std::nullopt,
      .data = boost::json::array{"room:message", boost::json::object{{"roomId", "ops"},
                                                                     {"fromUserId", 1},
                                                                     {"message", "deploy finished"},
                                                                     {"timestamp", "2026-11-27T08:00:00.000Z"}}},
      .attachments = {}};
}

iogate::sio::BroadcastOptions to_room() {
  iogate::sio::BroadcastOptions options;
  options.rooms = {"room:ops"};
  options.except = {"kX2f9aQ0cHw1AAAB"};
  return options;
}

void encode_broadcast(benchmark::State& state) {
  const auto packet = room_message();
  const auto options = to_room();
  for (auto _ : state) {
    auto bytes = redis::encode_broadcast("aYJ_g1", packet, options);
    benchmark::DoNotOptimize(bytes);
  }
}

void decode_broadcast(benchmark::State& state) {
  const std::string bytes = redis::encode_broadcast("aYJ_g1", room_message(), to_room());
  for (auto _ : state) {
    auto message = redis::decode_broadcast(bytes);
    benchmark::DoNotOptimize(message);
  }
}

BENCHMARK(encode_broadcast);
BENCHMARK(decode_broadcast);

}  // namespace

BENCHMARK_MAIN();
