// The per-message hot path: decoding a client event, and encoding a broadcast once into the
// shared Engine.IO/WebSocket frames every recipient receives.
#include <string>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include "sio/namespace.h"
#include "sio/proto/packet.h"

namespace {

const std::string kEvent =
    R"(2["private:message",{"toUserId":2,"message":"are we still on for the release at five?"}])";

void decode_event(benchmark::State& state) {
  for (auto _ : state) {
    iogate::sio::Decoder decoder(iogate::sio::ProtocolVersion::v5);
    benchmark::DoNotOptimize(decoder.feed_text(kEvent));
    auto packet = decoder.take();
    benchmark::DoNotOptimize(packet);
  }
}

void encode_broadcast(benchmark::State& state) {
  iogate::sio::Packet packet{.type = iogate::sio::PacketType::event,
                             .nsp = "/admin",
                             .id = std::nullopt,
                             .data = boost::json::array{"room:message",
                                                        boost::json::object{{"roomId", "ops"},
                                                                            {"fromUserId", 1},
                                                                            {"message", "deploy finished"},
                                                                            {"timestamp", "2026-11-27T08:00:00.000Z"}}},
                             .attachments = {}};
  for (auto _ : state) {
    auto frames = iogate::sio::encode_for_sending(packet);
    benchmark::DoNotOptimize(frames);
  }
}

BENCHMARK(decode_event);
BENCHMARK(encode_broadcast);

}  // namespace

BENCHMARK_MAIN();
