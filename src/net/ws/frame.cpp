#include "net/ws/frame.h"

#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <stdexcept>

#include "core/base64.h"
#include "core/utf8.h"

namespace iogate::net::ws {
namespace {

constexpr std::size_t kMaxControlPayload = 125;
constexpr std::size_t kMaxCloseReason = kMaxControlPayload - 2;

bool is_known_opcode(unsigned opcode) noexcept {
  switch (opcode) {
    case 0x0:
    case 0x1:
    case 0x2:
    case 0x8:
    case 0x9:
    case 0xA:
      return true;
    default:
      return false;
  }
}

bool is_valid_received_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
         (code >= 3000 && code <= 4999);
}

void unmask(char* payload, std::size_t size, const unsigned char* key) noexcept {
  std::uint64_t wide_key;
  std::memcpy(&wide_key, key, 4);
  std::memcpy(reinterpret_cast<char*>(&wide_key) + 4, key, 4);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, payload + i, 8);
    word ^= wide_key;
    std::memcpy(payload + i, &word, 8);
  }
  for (; i < size; ++i) {
    payload[i] = static_cast<char>(payload[i] ^ key[i & 3]);
  }
}

}  // namespace

std::size_t frame_header_size(std::size_t payload_size) noexcept {
  if (payload_size <= kMaxControlPayload) {
    return 2;
  }
  return payload_size <= 0xFFFF ? 4 : 10;
}

void append_frame_header(std::string& out, Opcode opcode, std::size_t payload_size) {
  out.push_back(static_cast<char>(0x80 | static_cast<unsigned>(opcode)));
  if (payload_size <= kMaxControlPayload) {
    out.push_back(static_cast<char>(payload_size));
  } else if (payload_size <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(payload_size >> 8));
    out.push_back(static_cast<char>(payload_size));
  } else {
    out.push_back(static_cast<char>(127));
    const auto length = static_cast<std::uint64_t>(payload_size);
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>(length >> shift));
    }
  }
}

void append_close_frame(std::string& out, CloseCode code, std::string_view reason) {
  if (reason.size() > kMaxCloseReason) {
    std::size_t cut = kMaxCloseReason;
    // Cut on a code point boundary: the peer fails the connection on a close reason that is not
    // valid UTF-8.
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    reason = reason.substr(0, cut);
  }
  append_frame_header(out, Opcode::close, 2 + reason.size());
  const auto value = static_cast<std::uint16_t>(code);
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value));
  out.append(reason);
}

std::string compute_accept_key(std::string_view client_key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input;
  input.reserve(client_key.size() + kGuid.size());
  input.append(client_key).append(kGuid);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &digest_size, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("compute_accept_key: SHA-1 failed");
  }
  return core::base64_encode(
      std::string_view(reinterpret_cast<const char*>(digest.data()), digest_size));
}

FrameParser::Result FrameParser::consume(char* data, std::size_t size, FrameHandler& handler) {
  Result result;
  const auto fail = [&result](CloseCode code) {
    result.failed = true;
    result.close_code = code;
    return result;
  };
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  std::size_t pos = 0;
  while (size - pos >= 2) {
    const unsigned char b0 = bytes[pos];
    const unsigned char b1 = bytes[pos + 1];
    const bool fin = (b0 & 0x80) != 0;
    const unsigned opcode = b0 & 0x0F;
    const bool control = (opcode & 0x8) != 0;
    const std::size_t length7 = b1 & 0x7F;
    if ((b0 & 0x70) != 0 || !is_known_opcode(opcode) || (b1 & 0x80) == 0) {
      return fail(CloseCode::protocol_error);
    }
    if (control) {
      if (!fin || length7 > kMaxControlPayload) {
        return fail(CloseCode::protocol_error);
      }
    } else if ((opcode == 0) != in_fragmented_message_) {
      return fail(CloseCode::protocol_error);
    }

    const std::size_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
    if (size - pos < 2 + extended) {
      break;
    }
    std::uint64_t length = length7;
    if (extended != 0) {
      length = 0;
      for (std::size_t k = 0; k < extended; ++k) {
        length = (length << 8) | bytes[pos + 2 + k];
      }
      if (length >> 63 != 0) {
        return fail(CloseCode::protocol_error);
      }
    }
    if (!control) {
      const std::size_t buffered = in_fragmented_message_ ? fragments_.size() : 0;
      if (length > max_message_size_ - buffered) {
        return fail(CloseCode::message_too_big);
      }
    }

    const std::size_t header = 2 + extended + 4;
    if (size - pos < header || size - pos - header < length) {
      break;
    }
    char* payload = data + pos + header;
    const auto payload_size = static_cast<std::size_t>(length);
    unmask(payload, payload_size, bytes + pos + header - 4);
    const std::string_view view(payload, payload_size);
    pos += header + payload_size;

    switch (static_cast<Opcode>(opcode)) {
      case Opcode::close: {
        if (payload_size == 1) {
          return fail(CloseCode::protocol_error);
        }
        std::uint16_t code = static_cast<std::uint16_t>(CloseCode::no_status);
        std::string_view reason;
        if (payload_size >= 2) {
          code = static_cast<std::uint16_t>((static_cast<unsigned char>(view[0]) << 8) |
                                            static_cast<unsigned char>(view[1]));
          if (!is_valid_received_close_code(code)) {
            return fail(CloseCode::protocol_error);
          }
          reason = view.substr(2);
          if (!core::is_valid_utf8(reason)) {
            return fail(CloseCode::invalid_payload);
          }
        }
        handler.on_close(code, reason);
        result.consumed = pos;
        return result;
      }
      case Opcode::ping:
        handler.on_ping(view);
        break;
      case Opcode::pong:
        handler.on_pong(view);
        break;
      default:
        if (!in_fragmented_message_ && fin) {
          const bool binary = opcode == static_cast<unsigned>(Opcode::binary);
          if (!binary && !core::is_valid_utf8(view)) {
            return fail(CloseCode::invalid_payload);
          }
          handler.on_message(binary, view);
        } else if (!in_fragmented_message_) {
          in_fragmented_message_ = true;
          fragmented_binary_ = opcode == static_cast<unsigned>(Opcode::binary);
          fragments_.assign(view);
        } else {
          fragments_.append(view);
          if (fin) {
            if (!fragmented_binary_ && !core::is_valid_utf8(fragments_)) {
              return fail(CloseCode::invalid_payload);
            }
            handler.on_message(fragmented_binary_, fragments_);
            in_fragmented_message_ = false;
            // Fragmented messages are rare; an idle connection should not hold on to their memory.
            std::string().swap(fragments_);
          }
        }
        break;
    }
    result.consumed = pos;
  }
  return result;
}

}  // namespace iogate::net::ws
