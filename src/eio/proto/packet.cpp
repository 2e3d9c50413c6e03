#include "eio/proto/packet.h"

#include "net/ws/frame.h"

namespace iogate::eio {
namespace {

constexpr unsigned kPacketTypeCount = 7;

// Builds the whole WebSocket frame in one exactly sized allocation: the frame is shared by every
// recipient, so it is never appended to afterwards.
SharedPacket make_packet(PacketType type, bool binary, std::string_view prefix,
                         std::string_view data) {
  const std::size_t payload_size = prefix.size() + data.size();
  const std::size_t header_size = net::ws::frame_header_size(payload_size);
  auto packet = std::make_shared<EncodedPacket>();
  packet->type = type;
  packet->binary = binary;
  packet->header_size = static_cast<std::uint8_t>(header_size);
  packet->frame.reserve(header_size + payload_size);
  net::ws::append_frame_header(
      packet->frame, binary ? net::ws::Opcode::binary : net::ws::Opcode::text, payload_size);
  packet->frame.append(prefix).append(data);
  return packet;
}

}  // namespace

std::optional<PacketView> decode_text_packet(std::string_view text) noexcept {
  if (text.empty() || text.front() < '0' ||
      text.front() >= static_cast<char>('0' + kPacketTypeCount)) {
    return std::nullopt;
  }
  return PacketView{static_cast<PacketType>(text.front() - '0'), false, text.substr(1)};
}

std::optional<PacketView> decode_binary_frame(std::string_view bytes, Revision revision) noexcept {
  if (revision == Revision::v4) {
    return PacketView{PacketType::message, true, bytes};
  }
  if (bytes.empty()) {
    return std::nullopt;
  }
  const auto type = static_cast<unsigned char>(bytes.front());
  if (type >= kPacketTypeCount) {
    return std::nullopt;
  }
  return PacketView{static_cast<PacketType>(type), true, bytes.substr(1)};
}

SharedPacket make_text_packet(PacketType type, std::string_view data) {
  const char digit = static_cast<char>('0' + static_cast<unsigned>(type));
  return make_packet(type, false, std::string_view(&digit, 1), data);
}

SharedPacket make_binary_packet(std::string_view bytes) {
  return make_packet(PacketType::message, true, {}, bytes);
}

void append_v3_binary_frame(const EncodedPacket& packet, std::string& out) {
  const std::string_view bytes = packet.packet_bytes();
  net::ws::append_frame_header(out, net::ws::Opcode::binary, 1 + bytes.size());
  out.push_back(static_cast<char>(packet.type));
  out.append(bytes);
}

}  // namespace iogate::eio
