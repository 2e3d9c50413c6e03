#include "sio/payload.h"

#include <boost/json/object.hpp>

namespace iogate::sio {

namespace json = boost::json;

json::value Payload::attach(std::string bytes) {
  attachments.push_back(std::move(bytes));
  return json::object{{"_placeholder", true}, {"num", attachments.size() - 1}};
}

const std::string* Payload::binary(const json::value& value) const noexcept {
  const auto* object = value.if_object();
  if (object == nullptr) {
    return nullptr;
  }
  const auto* marker = object->if_contains("_placeholder");
  const auto* num = object->if_contains("num");
  if (marker == nullptr || !marker->is_bool() || !marker->get_bool() || num == nullptr) {
    return nullptr;
  }
  std::uint64_t index = 0;
  if (num->is_int64() && num->get_int64() >= 0) {
    index = static_cast<std::uint64_t>(num->get_int64());
  } else if (num->is_uint64()) {
    index = num->get_uint64();
  } else {
    return nullptr;
  }
  return index < attachments.size() ? &attachments[index] : nullptr;
}

}  // namespace iogate::sio
