#pragma once
// Socket.IO packets (protocol 5, and 4 for Engine.IO 3 clients) and their text codec, pure.
//
// Binary data never lives inside the JSON: it stays as {"_placeholder":true,"num":i} objects
// that index `attachments`, exactly as it travels. Handlers read attachments by index.
//
// Example:
//   Decoder decoder(ProtocolVersion::v5);
//   if (decoder.feed_text(R"(2/chat,1["hi",1])") == Decoder::Status::packet_ready) {
//     Packet packet = decoder.take();  // nsp "/chat", id 1, data ["hi",1]
//   }
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace iogate::sio {

enum class PacketType : std::uint8_t {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

enum class ProtocolVersion : std::uint8_t { v4 = 4, v5 = 5 };

inline constexpr std::size_t kDefaultMaxAttachments = 10;
// Ack ids must stay exact as JavaScript numbers.
inline constexpr std::uint64_t kMaxAckId = (std::uint64_t{1} << 53) - 1;

struct Packet {
  PacketType type = PacketType::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;
  boost::json::value data;  // null when the packet carries no payload
  std::vector<std::string> attachments;
};

// Binary placeholders {"_placeholder":true,"num":i}: whether an object claims to be one, and
// the attachment it names when `num` is a whole number below `attachment_count`.
bool is_placeholder(const boost::json::object& object) noexcept;
std::optional<std::size_t> placeholder_index(const boost::json::object& object, std::size_t attachment_count) noexcept;

// Event names a client may not emit (socket.io-parser RESERVED_EVENTS).
bool is_reserved_event_name(std::string_view name) noexcept;

// Appends the text form: <type>[<n>-][<nsp>,][<id>][<json>]. When `attachments` is non-empty an
// event/ack is written as binary_event/binary_ack with the attachment count; the attachments
// themselves are then sent by the caller as separate binary messages, in order.
void encode_packet(const Packet& packet, std::string& out);
std::string encode_packet(const Packet& packet);

// Error texts follow socket.io-parser's where it has one.
enum class DecodeError : std::uint8_t {
  none,
  unknown_packet_type,
  illegal_attachments,
  too_many_attachments,
  invalid_ack_id,
  invalid_json,
  invalid_payload,
  unexpected_text,    // a text packet while attachments are still expected
  unexpected_binary,  // a binary message while none is expected
};
std::string_view to_string(DecodeError error) noexcept;

// Decodes the packets of one connection, reassembling binary packets from their attachments.
// Violations leave the decoder failed: the connection must be closed, as the reference does.
// Protocol 4 (v4): a CONNECT namespace may carry a query ("/nsp?token=abc"), which becomes the
// packet's data as an object of strings (the handshake auth); protocol 5 takes auth from JSON.
class Decoder {
 public:
  explicit Decoder(ProtocolVersion version,
                   std::size_t max_attachments = kDefaultMaxAttachments) noexcept
      : version_(version), max_attachments_(max_attachments) {}

  enum class Status : std::uint8_t { packet_ready, need_attachments, failed };

  Status feed_text(std::string_view text);
  Status feed_binary(std::string_view bytes);

  // The completed packet; valid after packet_ready.
  Packet take() { return std::move(pending_); }
  DecodeError error() const noexcept { return error_; }

 private:
  Status fail(DecodeError error) noexcept;
  Status finish_binary();

  ProtocolVersion version_;
  std::size_t max_attachments_;
  std::size_t expected_attachments_ = 0;
  Packet pending_;
  DecodeError error_ = DecodeError::none;
};

}  // namespace iogate::sio
