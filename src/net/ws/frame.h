#pragma once
// RFC 6455 framing, pure (no I/O): a parser for client frames and an encoder for server frames.
// The encoder lets a broadcast be framed once and the same bytes written to every WebSocket.
//
// Example:
//   FrameParser parser(1'000'000);
//   auto result = parser.consume(buffer.data(), buffer.size(), handler);
//   if (result.failed) send_close_and_shut(result.close_code);
//   buffer.erase(0, result.consumed);
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace iogate::net::ws {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Close codes the server sends (RFC 6455 §7.4.1).
enum class CloseCode : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  no_status = 1005,  // received-only: a close frame without a code
  invalid_payload = 1007,
  policy_violation = 1008,
  message_too_big = 1009,
  internal_error = 1011,
};

// Size of the header of an unmasked single frame carrying `payload_size` bytes (2, 4 or 10).
std::size_t frame_header_size(std::size_t payload_size) noexcept;

// Appends the header of an unmasked, final (FIN=1) frame; the caller appends the payload.
void append_frame_header(std::string& out, Opcode opcode, std::size_t payload_size);

// Appends a whole close frame (code + reason, reason truncated to fit 125 bytes).
void append_close_frame(std::string& out, CloseCode code, std::string_view reason = {});

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (base64 of SHA-1 of key + GUID).
std::string compute_accept_key(std::string_view client_key);

// Receives what the parser decodes. Views are valid only during the call.
class FrameHandler {
 public:
  virtual void on_message(bool binary, std::string_view payload) = 0;  // complete, reassembled
  virtual void on_ping(std::string_view payload) = 0;
  virtual void on_pong(std::string_view payload) = 0;
  // code is 1005 (no_status) when the close frame had no payload.
  virtual void on_close(std::uint16_t code, std::string_view reason) = 0;

 protected:
  ~FrameHandler() = default;
};

// Parses client→server frames incrementally. Enforces: client frames masked, RSV bits zero
// (no extensions are negotiated), known opcodes, control frames final and ≤125 bytes,
// continuation only inside a fragmented message, no new data frame inside one, message size
// ≤ max_message_size (1009, detected from the header before the payload arrives), text messages
// valid UTF-8 (1007), close payload well-formed (1002 / 1007), 64-bit lengths with MSB clear.
class FrameParser {
 public:
  explicit FrameParser(std::size_t max_message_size) noexcept
      : max_message_size_(max_message_size) {}

  struct Result {
    std::size_t consumed = 0;  // bytes of whole frames consumed; keep the rest for the next call
    bool failed = false;       // protocol violation: send a close frame with close_code and shut
    CloseCode close_code = CloseCode::normal;
  };

  // Parses every complete frame in [data, data+size), unmasking payloads in place, and calls the
  // handler for each complete message and control frame. After a failure, or after on_close,
  // the parser must not be fed again.
  Result consume(char* data, std::size_t size, FrameHandler& handler);

 private:
  std::size_t max_message_size_;
  std::string fragments_;
  bool in_fragmented_message_ = false;
  bool fragmented_binary_ = false;
};

}  // namespace iogate::net::ws
