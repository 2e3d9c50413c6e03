#pragma once
// Engine.IO packets (protocol revisions 3 and 4), pure: no I/O, no clock.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace iogate::eio {

enum class PacketType : std::uint8_t {
  open = 0,
  close = 1,
  ping = 2,
  pong = 3,
  message = 4,
  upgrade = 5,
  noop = 6,
};

enum class Revision : std::uint8_t { v3 = 3, v4 = 4 };

// A decoded packet. `data` views the input or a decoder's scratch buffer (binary over polling
// arrives base64-encoded); it is valid only during the callback that receives it.
struct PacketView {
  PacketType type = PacketType::message;
  bool binary = false;
  std::string_view data;
};

// Decodes a text packet: one type digit 0-6 followed by its data ("4hello", "2probe").
std::optional<PacketView> decode_text_packet(std::string_view text) noexcept;

// Decodes a WebSocket binary message: v4 frames are raw message bytes; v3 frames start with the
// type byte (0x04 for a message). Returns nullopt for a malformed v3 frame.
std::optional<PacketView> decode_binary_frame(std::string_view bytes, Revision revision) noexcept;

// One outgoing packet, encoded once and shared, immutable, by every recipient on every shard.
// `frame` is a complete unmasked WebSocket frame; the Engine.IO bytes follow its header:
// for text, the type digit and data ("4hello"); for binary, the raw message bytes (v4 layout).
struct EncodedPacket {
  PacketType type = PacketType::message;
  bool binary = false;
  std::uint8_t header_size = 0;
  std::string frame;

  // Text packet ("4hello") or raw binary bytes, as polling payload encoders need them.
  std::string_view packet_bytes() const noexcept {
    return std::string_view(frame).substr(header_size);
  }
};

using SharedPacket = std::shared_ptr<const EncodedPacket>;

SharedPacket make_text_packet(PacketType type, std::string_view data = {});
SharedPacket make_binary_packet(std::string_view bytes);

// Appends a v3 WebSocket binary frame (type byte 4 before the bytes) for a binary packet.
void append_v3_binary_frame(const EncodedPacket& packet, std::string& out);

}  // namespace iogate::eio
