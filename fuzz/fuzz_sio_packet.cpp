// Socket.IO packet decoder, text and binary messages of one connection.
// Input: byte 0 picks the protocol (odd: v4, even: v5); the rest is a sequence of messages
// separated by 0xFF, each starting with a flag byte ('b': binary message, anything else: text).
// Every completed packet must re-encode to text (plus its attachments) that decodes to an equal
// packet and re-encodes to the same text.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sio/proto/packet.h"

namespace {

using iogate::sio::Decoder;
using iogate::sio::DecodeError;
using iogate::sio::Packet;
using iogate::sio::ProtocolVersion;

constexpr char kSeparator = '\xFF';

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

bool has_non_finite(const boost::json::value& value) {
  if (value.is_double()) {
    return !std::isfinite(value.get_double());
  }
  if (const auto* array = value.if_array()) {
    for (const auto& item : *array) {
      if (has_non_finite(item)) {
        return true;
      }
    }
  }
  if (const auto* object = value.if_object()) {
    for (const auto& member : *object) {
      if (has_non_finite(member.value())) {
        return true;
      }
    }
  }
  return false;
}

void check_round_trip(const Packet& packet, ProtocolVersion version) {
  const std::string text = iogate::sio::encode_packet(packet);
  Decoder decoder(version);
  Decoder::Status status = decoder.feed_text(text);
  // Non-finite numbers are written as null, as JSON.stringify does, so the packet changes (an
  // event named by one even becomes invalid); the text must still be valid JSON.
  if (has_non_finite(packet.data)) {
    check(status != Decoder::Status::failed || decoder.error() == DecodeError::invalid_payload);
    return;
  }
  for (const std::string& attachment : packet.attachments) {
    check(status == Decoder::Status::need_attachments);
    status = decoder.feed_binary(attachment);
  }
  check(status == Decoder::Status::packet_ready);
  const Packet again = decoder.take();
  check(again.type == packet.type);
  check(again.nsp == packet.nsp);
  check(again.id == packet.id);
  check(again.data == packet.data);
  check(again.attachments == packet.attachments);
  check(iogate::sio::encode_packet(again) == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const ProtocolVersion version = (input[0] & 1) != 0 ? ProtocolVersion::v4 : ProtocolVersion::v5;
  input.remove_prefix(1);
  Decoder decoder(version);
  while (!input.empty()) {
    const std::size_t end = input.find(kSeparator);
    std::string_view message = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 1);
    if (message.empty()) {
      continue;
    }
    const bool binary = message.front() == 'b';
    message.remove_prefix(1);
    const Decoder::Status status =
        binary ? decoder.feed_binary(message) : decoder.feed_text(message);
    check((status == Decoder::Status::failed) == (decoder.error() != DecodeError::none));
    if (status == Decoder::Status::failed) {
      return 0;
    }
    if (status == Decoder::Status::packet_ready) {
      check_round_trip(decoder.take(), version);
    }
  }
  return 0;
}
