// Decodes arbitrary bytes as an Engine.IO v3 polling payload (the first byte picks the text or
// the XHR2 binary format), then checks the round-trip invariant: re-encoding the decoded packets
// in either format gives a payload that decodes to the same packets.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.h"
#include "eio/proto/payload.h"

namespace {

using namespace iogate::eio;

struct Decoded {
  PacketType type;
  bool binary;
  std::string data;

  bool operator==(const Decoded&) const = default;
};

using Decoder = bool (*)(std::string_view, PacketCallback);
using Encoder = void (*)(std::span<const SharedPacket>, std::string&);

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

std::optional<std::vector<Decoded>> decode(Decoder decoder, std::string_view body) {
  std::vector<Decoded> packets;
  const bool ok = decoder(body, [&packets](const PacketView& packet) {
    packets.push_back({packet.type, packet.binary, std::string(packet.data)});
    return true;
  });
  if (!ok) {
    return std::nullopt;
  }
  return packets;
}

SharedPacket to_shared(const Decoded& packet) {
  if (!packet.binary) {
    return make_text_packet(packet.type, packet.data);
  }
  // v3 binary packets may carry any type; the v3 encoders write packet.type.
  auto encoded = std::make_shared<EncodedPacket>(*make_binary_packet(packet.data));
  encoded->type = packet.type;
  return encoded;
}

void check_round_trip(const std::vector<Decoded>& packets, const std::vector<SharedPacket>& encoded,
                      Encoder encoder, Decoder decoder) {
  std::string body;
  encoder(encoded, body);
  check(decode(decoder, body) == packets);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const bool binary_format = (data[0] & 1) != 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto packets =
      decode(binary_format ? decode_payload_v3_binary : decode_payload_v3_text, body);
  if (!packets) {
    return 0;
  }
  std::vector<SharedPacket> encoded;
  for (const Decoded& packet : *packets) {
    encoded.push_back(to_shared(packet));
  }
  check_round_trip(*packets, encoded, encode_payload_v3_text, decode_payload_v3_text);
  // The binary format has no empty form and carries text as UTF-8 only.
  const bool binary_encodable =
      !packets->empty() && std::all_of(packets->begin(), packets->end(), [](const Decoded& packet) {
        return packet.binary || iogate::core::is_valid_utf8(packet.data);
      });
  check(binary_encodable || !binary_format);
  if (binary_encodable) {
    check_round_trip(*packets, encoded, encode_payload_v3_binary, decode_payload_v3_binary);
  }
  return 0;
}
