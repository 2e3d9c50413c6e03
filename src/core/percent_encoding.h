#pragma once
// Percent-decoding as Node's querystring.unescape does it, shared by the HTTP query parser and
// the Socket.IO 4 CONNECT query (auth of Socket.IO 2 clients).
#include <string>
#include <string_view>

namespace iogate::core {

// The value of a hexadecimal digit, or -1.
int hex_value(char c) noexcept;

// '+' is a space, each valid %XX is decoded, malformed escapes stay as typed.
std::string query_unescape(std::string_view text);

}  // namespace iogate::core
