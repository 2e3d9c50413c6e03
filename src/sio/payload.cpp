#include "sio/payload.h"

#include <boost/json/object.hpp>

#include "sio/proto/packet.h"

namespace iogate::sio {

namespace json = boost::json;

json::value Payload::attach(std::string bytes) {
  attachments.push_back(std::move(bytes));
  return json::object{{"_placeholder", true}, {"num", attachments.size() - 1}};
}

const std::string* Payload::binary(const json::value& value) const noexcept {
  const auto* object = value.if_object();
  const auto index = object == nullptr ? std::nullopt : placeholder_index(*object, attachments.size());
  return index ? &attachments[*index] : nullptr;
}

}  // namespace iogate::sio
