#include "eio/proto/payload.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

#include "core/base64.h"
#include "core/utf8.h"

namespace iogate::eio {
namespace {

constexpr char kRecordSeparator = '\x1e';
constexpr char kBinaryPrefix = 'b';
constexpr unsigned char kTextMarker = 0x00;
constexpr unsigned char kBinaryMarker = 0x01;
constexpr unsigned char kLengthEnd = 0xFF;
// Node accepts up to 310 digits (Number.MAX_VALUE); ten already exceed any acceptable body and
// keep the value within 64 bits.
constexpr std::size_t kMaxLengthDigits = 10;
constexpr std::size_t kMaxDecimalSize = 20;  // digits of SIZE_MAX

std::size_t base64_size(std::size_t bytes) noexcept { return (bytes + 2) / 3 * 4; }

char type_digit(PacketType type) noexcept {
  return static_cast<char>('0' + static_cast<unsigned>(type));
}

void append_decimal(std::size_t value, std::string& out) {
  char digits[kMaxDecimalSize];
  const auto result = std::to_chars(digits, digits + kMaxDecimalSize, value);
  out.append(digits, result.ptr);
}

// The XHR2 payload writes each decimal digit as its value (0-9), not as ASCII.
void append_digit_bytes(std::size_t value, std::string& out) {
  char digits[kMaxDecimalSize];
  const auto result = std::to_chars(digits, digits + kMaxDecimalSize, value);
  for (const char* digit = digits; digit != result.ptr; ++digit) {
    out.push_back(static_cast<char>(*digit - '0'));
  }
}

std::optional<std::uint64_t> parse_length(std::string_view digits) noexcept {
  if (digits.empty() || digits.size() > kMaxLengthDigits) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

// A v3 packet in string form: a text packet, or 'b' + type digit + base64 for binary.
std::optional<PacketView> decode_v3_string_packet(std::string_view text, std::string& scratch) {
  if (text.empty() || text.front() != kBinaryPrefix) {
    return decode_text_packet(text);
  }
  const auto typed = decode_text_packet(text.substr(1));
  if (!typed || !core::base64_decode(typed->data, scratch)) {
    return std::nullopt;
  }
  return PacketView{typed->type, true, scratch};
}

}  // namespace

bool decode_payload_v4(std::string_view body, PacketCallback on_packet) {
  // An empty body and empty parts between separators are parser errors in engine.io-parser.
  if (body.empty()) {
    return false;
  }
  std::string scratch;
  for (;;) {
    const std::size_t end = body.find(kRecordSeparator);
    const std::string_view part = body.substr(0, end);
    std::optional<PacketView> packet;
    if (!part.empty() && part.front() == kBinaryPrefix) {
      if (!core::base64_decode(part.substr(1), scratch)) {
        return false;
      }
      packet = PacketView{PacketType::message, true, scratch};
    } else {
      packet = decode_text_packet(part);
      if (!packet) {
        return false;
      }
    }
    if (!on_packet(*packet) || end == std::string_view::npos) {
      return true;
    }
    body.remove_prefix(end + 1);
  }
}

bool decode_payload_v3_text(std::string_view body, PacketCallback on_packet) {
  if (body.empty()) {
    return false;
  }
  std::string scratch;
  while (!body.empty()) {
    // Looking no further than the longest accepted length: a body without ':' is not scanned whole.
    const std::size_t colon = body.substr(0, kMaxLengthDigits + 1).find(':');
    if (colon == std::string_view::npos) {
      return false;
    }
    const auto units = parse_length(body.substr(0, colon));
    if (!units) {
      return false;
    }
    body.remove_prefix(colon + 1);
    const std::size_t size = core::utf8_prefix_for_utf16_units(body, *units);
    if (size == std::string_view::npos) {
      return false;
    }
    const std::string_view text = body.substr(0, size);
    body.remove_prefix(size);
    // "0:" carries no packet; Node skips it (it is how an empty payload is written).
    if (text.empty()) {
      continue;
    }
    const auto packet = decode_v3_string_packet(text, scratch);
    if (!packet) {
      return false;
    }
    if (!on_packet(*packet)) {
      return true;
    }
  }
  return true;
}

bool decode_payload_v3_binary(std::string_view body, PacketCallback on_packet) {
  if (body.empty()) {
    return false;
  }
  std::string scratch;
  while (!body.empty()) {
    const auto marker = static_cast<unsigned char>(body.front());
    if (marker != kTextMarker && marker != kBinaryMarker) {
      return false;
    }
    std::size_t end = 1;
    std::uint64_t length = 0;
    for (; end < body.size() && static_cast<unsigned char>(body[end]) != kLengthEnd; ++end) {
      const auto digit = static_cast<unsigned char>(body[end]);
      if (digit > 9 || end > kMaxLengthDigits) {
        return false;
      }
      length = length * 10 + digit;
    }
    if (end == 1 || end == body.size()) {
      return false;
    }
    body.remove_prefix(end + 1);
    if (length > body.size()) {
      return false;
    }
    const std::string_view bytes = body.substr(0, length);
    body.remove_prefix(length);
    std::optional<PacketView> packet;
    if (marker == kBinaryMarker) {
      packet = decode_binary_frame(bytes, Revision::v3);
    } else if (core::is_valid_utf8(bytes)) {
      // Node UTF-8-decodes text entries and rejects the payload when that fails.
      packet = decode_v3_string_packet(bytes, scratch);
    }
    if (!packet) {
      return false;
    }
    if (!on_packet(*packet)) {
      return true;
    }
  }
  return true;
}

void encode_payload_v4(std::span<const SharedPacket> packets, std::string& out) {
  std::size_t size = packets.empty() ? 0 : packets.size() - 1;
  for (const SharedPacket& packet : packets) {
    const std::size_t bytes = packet->packet_bytes().size();
    size += packet->binary ? 1 + base64_size(bytes) : bytes;
  }
  out.reserve(out.size() + size);
  for (const SharedPacket& packet : packets) {
    if (&packet != packets.data()) {
      out.push_back(kRecordSeparator);
    }
    if (packet->binary) {
      out.push_back(kBinaryPrefix);
      core::base64_append(packet->packet_bytes(), out);
    } else {
      out.append(packet->packet_bytes());
    }
  }
}

void encode_payload_v3_text(std::span<const SharedPacket> packets, std::string& out) {
  if (packets.empty()) {
    out.append("0:");
    return;
  }
  std::size_t size = 0;
  for (const SharedPacket& packet : packets) {
    const std::size_t bytes = packet->packet_bytes().size();
    size += kMaxDecimalSize + 1 + (packet->binary ? 2 + base64_size(bytes) : bytes);
  }
  out.reserve(out.size() + size);
  for (const SharedPacket& packet : packets) {
    const std::string_view bytes = packet->packet_bytes();
    if (packet->binary) {
      // Base64 is ASCII, so its UTF-16 length is its byte length.
      append_decimal(2 + base64_size(bytes.size()), out);
      out.push_back(':');
      out.push_back(kBinaryPrefix);
      out.push_back(type_digit(packet->type));
      core::base64_append(bytes, out);
    } else {
      append_decimal(core::utf16_length(bytes), out);
      out.push_back(':');
      out.append(bytes);
    }
  }
}

void encode_payload_v3_binary(std::span<const SharedPacket> packets, std::string& out) {
  std::size_t size = 0;
  for (const SharedPacket& packet : packets) {
    size += 1 + kMaxDecimalSize + 1 + 1 + packet->packet_bytes().size();
  }
  out.reserve(out.size() + size);
  for (const SharedPacket& packet : packets) {
    const std::string_view bytes = packet->packet_bytes();
    out.push_back(static_cast<char>(packet->binary ? kBinaryMarker : kTextMarker));
    append_digit_bytes(bytes.size() + (packet->binary ? 1 : 0), out);
    out.push_back(static_cast<char>(kLengthEnd));
    if (packet->binary) {
      out.push_back(static_cast<char>(packet->type));
    }
    out.append(bytes);
  }
}

bool v3_needs_binary_payload(std::span<const SharedPacket> packets, bool client_wants_base64) {
  return !client_wants_base64 &&
         std::any_of(packets.begin(), packets.end(),
                     [](const SharedPacket& packet) { return packet->binary; });
}

}  // namespace iogate::eio
