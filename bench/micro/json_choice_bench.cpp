// Why Boost.JSON carries event payloads: the three candidates parse (and, where they can,
// serialise) a typical event payload. simdjson parses fastest but its DOM is read-only, so
// handlers could not build or change payloads with it; nlohmann is the slowest.
#include <string>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "sio/proto/packet.h"

namespace {

const std::string kPayload =
    R"(["room:message",{"roomId":"ops-42","message":"deploy finished on all nodes, 17 services restarted",)"
    R"("fromUserId":1234,"fromUsername":"alice","timestamp":"2026-11-27T08:00:00.000Z","tags":["deploy","prod"],)"
    R"("meta":{"durationMs":48213.5,"ok":true,"retries":0}}])";

void boost_json_parse(benchmark::State& state) {
  for (auto _ : state) {
    boost::system::error_code ec;
    auto value = boost::json::parse(kPayload, ec);
    benchmark::DoNotOptimize(value);
  }
}

void boost_json_serialize(benchmark::State& state) {
  auto value = boost::json::parse(kPayload);
  for (auto _ : state) {
    auto text = boost::json::serialize(value);
    benchmark::DoNotOptimize(text);
  }
}

void nlohmann_parse(benchmark::State& state) {
  for (auto _ : state) {
    auto value = nlohmann::json::parse(kPayload, nullptr, false);
    benchmark::DoNotOptimize(value);
  }
}

void nlohmann_serialize(benchmark::State& state) {
  auto value = nlohmann::json::parse(kPayload);
  for (auto _ : state) {
    auto text = value.dump();
    benchmark::DoNotOptimize(text);
  }
}

void simdjson_parse(benchmark::State& state) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(kPayload);
  for (auto _ : state) {
    auto element = parser.parse(padded);
    benchmark::DoNotOptimize(element);
  }
}

// What iogate does per received event: the whole Socket.IO decode (Boost.JSON's parser with
// exact number re-reading) of "2" + payload.
void iogate_decode_event(benchmark::State& state) {
  const std::string packet = "2" + kPayload;
  for (auto _ : state) {
    iogate::sio::Decoder decoder(iogate::sio::ProtocolVersion::v5);
    auto status = decoder.feed_text(packet);
    benchmark::DoNotOptimize(status);
    auto decoded = decoder.take();
    benchmark::DoNotOptimize(decoded);
  }
}

BENCHMARK(boost_json_parse);
BENCHMARK(boost_json_serialize);
BENCHMARK(nlohmann_parse);
BENCHMARK(nlohmann_serialize);
BENCHMARK(simdjson_parse);
BENCHMARK(iogate_decode_event);

}  // namespace

BENCHMARK_MAIN();
