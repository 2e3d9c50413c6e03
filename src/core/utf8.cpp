#include "core/utf8.h"

#include <cstdint>
#include <cstring>

namespace iogate::core {
namespace {

constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

// Length of the well-formed sequence (RFC 3629 §4) starting at `i`, or 0 if it is not one.
std::size_t sequence_length(const unsigned char* s, std::size_t i, std::size_t size) noexcept {
  const unsigned char lead = s[i];
  if (lead < 0x80) {
    return 1;
  }
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) {
      second_min = 0xA0;  // overlong
    } else if (lead == 0xED) {
      second_max = 0x9F;  // surrogates
    }
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) {
      second_min = 0x90;  // overlong
    } else if (lead == 0xF4) {
      second_max = 0x8F;  // above U+10FFFF
    }
  } else {
    return 0;
  }
  if (size - i < length || s[i + 1] < second_min || s[i + 1] > second_max) {
    return 0;
  }
  for (std::size_t k = 2; k < length; ++k) {
    if ((s[i + k] & 0xC0) != 0x80) {
      return 0;
    }
  }
  return length;
}

bool is_ascii_word(const unsigned char* s, std::size_t i) noexcept {
  std::uint64_t word;
  std::memcpy(&word, s + i, sizeof word);
  return (word & kHighBits) == 0;
}

}  // namespace

bool is_valid_utf8(std::string_view text) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    if (size - i >= 8 && is_ascii_word(s, i)) {
      i += 8;
      continue;
    }
    const std::size_t length = sequence_length(s, i, size);
    if (length == 0) {
      return false;
    }
    i += length;
  }
  return true;
}

std::size_t utf16_length(std::string_view utf8) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(utf8.data());
  const std::size_t size = utf8.size();
  std::size_t units = 0;
  std::size_t i = 0;
  while (i < size) {
    if (size - i >= 8 && is_ascii_word(s, i)) {
      i += 8;
      units += 8;
      continue;
    }
    const std::size_t length = sequence_length(s, i, size);
    units += length == 4 ? 2 : 1;
    i += length == 0 ? 1 : length;
  }
  return units;
}

std::size_t utf8_prefix_for_utf16_units(std::string_view utf8, std::size_t units) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(utf8.data());
  const std::size_t size = utf8.size();
  std::size_t counted = 0;
  std::size_t i = 0;
  while (counted < units) {
    if (i == size) {
      return std::string_view::npos;
    }
    if (size - i >= 8 && units - counted >= 8 && is_ascii_word(s, i)) {
      i += 8;
      counted += 8;
      continue;
    }
    const std::size_t length = sequence_length(s, i, size);
    counted += length == 4 ? 2 : 1;
    i += length == 0 ? 1 : length;
  }
  return counted == units ? i : std::string_view::npos;
}

}  // namespace iogate::core
