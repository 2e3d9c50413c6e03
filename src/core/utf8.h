#pragma once
// UTF-8 validation (WebSocket text frames, RFC 6455 §8.1) and UTF-16 unit counting (Engine.IO v3
// payload lengths are JavaScript string lengths).
#include <cstddef>
#include <string_view>

namespace iogate::core {

bool is_valid_utf8(std::string_view text) noexcept;

// Number of UTF-16 code units the UTF-8 text occupies (a 4-byte sequence counts 2).
// Invalid bytes count 1 each, as a decoder replacing them with U+FFFD would.
std::size_t utf16_length(std::string_view utf8) noexcept;

// Byte length of the longest prefix of `utf8` spanning exactly `units` UTF-16 units, or
// npos if the text is shorter or the boundary falls inside a surrogate pair.
std::size_t utf8_prefix_for_utf16_units(std::string_view utf8, std::size_t units) noexcept;

}  // namespace iogate::core
