// Redis adapter requests and responses (JSON or msgpack, from other nodes and the emitter), and
// the JSON forms read out of them: options and fetched sockets. A decoded msgpack document must
// re-encode to bytes that decode and re-encode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapter/redis/wire.h"

namespace {

namespace redis = iogate::adapter::redis;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

void read_fields(const boost::json::value& value) {
  const auto* object = value.if_object();
  if (object == nullptr) {
    return;
  }
  if (const auto* opts = object->if_contains("opts")) {
    if (auto options = redis::options_from_json(*opts)) {
      check(redis::options_from_json(redis::options_to_json(*options, true)).has_value());
    }
  }
  if (const auto* sockets = object->if_contains("sockets"); sockets != nullptr && sockets->is_array()) {
    for (const auto& item : sockets->get_array()) {
      if (auto socket = redis::socket_from_json(item)) {
        check(redis::socket_from_json(redis::socket_to_json(*socket)).has_value());
      }
    }
  }
  if (const auto* data = object->if_contains("data")) {
    read_fields(*data);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto message = redis::decode_message(input);
  if (!message) {
    return 0;
  }
  read_fields(message->value);
  if (!input.empty() && input.front() != '{') {
    const std::string bytes = redis::encode_msgpack(message->value, message->attachments);
    const auto again = redis::decode_msgpack(bytes);
    check(again.has_value());
    check(again->attachments == message->attachments);
    check(redis::encode_msgpack(again->value, again->attachments) == bytes);
  }
  return 0;
}
