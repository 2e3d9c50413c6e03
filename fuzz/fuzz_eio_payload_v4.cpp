// Decodes arbitrary bytes as an Engine.IO v4 polling payload, then checks the round-trip
// invariant: re-encoding the decoded packets gives a payload that decodes to the same packets.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eio/proto/payload.h"

namespace {

using namespace iogate::eio;

struct Decoded {
  PacketType type;
  bool binary;
  std::string data;

  bool operator==(const Decoded&) const = default;
};

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

std::optional<std::vector<Decoded>> decode(std::string_view body) {
  std::vector<Decoded> packets;
  const bool ok = decode_payload_v4(body, [&packets](const PacketView& packet) {
    packets.push_back({packet.type, packet.binary, std::string(packet.data)});
    return true;
  });
  if (!ok) {
    return std::nullopt;
  }
  return packets;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto packets = decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!packets) {
    return 0;
  }
  check(!packets->empty());
  std::vector<SharedPacket> encoded;
  for (const Decoded& packet : *packets) {
    check(!packet.binary || packet.type == PacketType::message);
    encoded.push_back(packet.binary ? make_binary_packet(packet.data)
                                    : make_text_packet(packet.type, packet.data));
  }
  std::string body;
  encode_payload_v4(encoded, body);
  check(decode(body) == packets);
  return 0;
}
