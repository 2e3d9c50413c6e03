// Redis adapter broadcast decoder (msgpack from other nodes and the emitter).
// Every decoded message must re-encode to bytes that decode to the same message and re-encode
// to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapter/redis/wire.h"

namespace {

using iogate::adapter::redis::BroadcastMessage;
using iogate::adapter::redis::decode_broadcast;
using iogate::adapter::redis::encode_broadcast;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

std::string encode(const BroadcastMessage& message) {
  return encode_broadcast(message.uid, message.packet, message.options);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto first = decode_broadcast(input);
  if (!first) {
    return 0;
  }
  const std::string bytes = encode(*first);
  const auto second = decode_broadcast(bytes);
  check(second.has_value());
  check(second->uid == first->uid);
  check(second->packet.type == first->packet.type);
  check(second->packet.nsp == first->packet.nsp);
  check(second->packet.id == first->packet.id);
  check(second->packet.attachments == first->packet.attachments);
  check(second->options.rooms == first->options.rooms);
  check(second->options.except == first->options.except);
  check(second->options.flags.local == first->options.flags.local);
  check(second->options.flags.is_volatile == first->options.flags.is_volatile);
  check(second->options.flags.compress == first->options.flags.compress);
  check(second->options.flags.timeout == first->options.flags.timeout);
  // Bytes rather than JSON equality: NaN is not equal to itself.
  check(encode(*second) == bytes);
  return 0;
}
