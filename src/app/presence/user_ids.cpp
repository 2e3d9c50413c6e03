#include "app/presence/user_ids.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace iogate::app {

namespace json = boost::json;

std::string user_key(const json::value& id) {
  if (id.is_string()) {
    return std::string(id.as_string());
  }
  if (id.is_int64() || id.is_uint64()) {
    return json::serialize(id);
  }
  if (id.is_double()) {
    // As JavaScript writes the number in `user:${id}`: 5.0 is "5".
    double number = id.get_double();
    char text[32];
    auto [end, ec] = std::abs(number) < 9007199254740992.0 && std::trunc(number) == number
                         ? std::to_chars(text, text + sizeof text, static_cast<std::int64_t>(number))
                         : std::to_chars(text, text + sizeof text, number);
    return ec == std::errc{} ? std::string(text, end) : std::string();
  }
  return {};
}

json::value user_id_from_text(std::string_view text) {
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  bool digits_only = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits_only && ec == std::errc{} && end == text.data() + text.size() && number < 9007199254740992) {
    return number;
  }
  return json::string(text);
}

std::string presence_id(const json::value& id) {
  // 5.0 and 5 are one user, as they are one room.
  if (id.is_double() && std::abs(id.get_double()) < 9007199254740992.0 &&
      std::trunc(id.get_double()) == id.get_double()) {
    return json::serialize(json::value(static_cast<std::int64_t>(id.get_double())));
  }
  return json::serialize(id);
}

json::value id_from_presence(const std::string& presence_id) {
  boost::system::error_code ec;
  json::value id = json::parse(presence_id, ec);
  return ec ? json::value(presence_id) : id;
}

}  // namespace iogate::app
