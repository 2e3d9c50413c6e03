#pragma once
// Standard base64 (RFC 4648 §4, with padding), as Engine.IO uses for binary over polling.
#include <string>
#include <string_view>

namespace iogate::core {

void base64_append(std::string_view bytes, std::string& out);
std::string base64_encode(std::string_view bytes);
// Strict: rejects characters outside the alphabet, bad padding and lengths not a multiple of 4.
// On success replaces `out` with the decoded bytes.
bool base64_decode(std::string_view text, std::string& out);

}  // namespace iogate::core
