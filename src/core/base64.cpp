#include "core/base64.h"

#include <array>
#include <cstdint>
#include <utility>

namespace iogate::core {
namespace {

// Table-driven rather than EVP_DecodeBlock, which skips surrounding whitespace and counts '='
// padding as decoded zero bytes, so it is neither strict nor length-exact.
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kInvalid = 0xFF;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  table.fill(kInvalid);
  for (std::uint8_t i = 0; i < 64; ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = i;
  }
  return table;
}

constexpr std::array<std::uint8_t, 256> kDecode = make_decode_table();

std::uint8_t sextet(char c) noexcept { return kDecode[static_cast<unsigned char>(c)]; }

}  // namespace

void base64_append(std::string_view bytes, std::string& out) {
  out.reserve(out.size() + (bytes.size() + 2) / 3 * 4);
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    out.push_back(kAlphabet[(group >> 18) & 63]);
    out.push_back(kAlphabet[(group >> 12) & 63]);
    out.push_back(kAlphabet[(group >> 6) & 63]);
    out.push_back(kAlphabet[group & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 0) {
    return;
  }
  std::uint32_t group = std::uint32_t{in[i]} << 16;
  if (rest == 2) {
    group |= std::uint32_t{in[i + 1]} << 8;
  }
  out.push_back(kAlphabet[(group >> 18) & 63]);
  out.push_back(kAlphabet[(group >> 12) & 63]);
  out.push_back(rest == 2 ? kAlphabet[(group >> 6) & 63] : '=');
  out.push_back('=');
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  base64_append(bytes, out);
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0) {
    return false;
  }
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') {
    padding = text[text.size() - 2] == '=' ? 2 : 1;
  }
  std::string decoded;
  decoded.reserve(text.size() / 4 * 3 - padding);
  const std::size_t full_end = text.size() - (padding == 0 ? 0 : 4);
  for (std::size_t i = 0; i < full_end; i += 4) {
    const std::uint8_t a = sextet(text[i]);
    const std::uint8_t b = sextet(text[i + 1]);
    const std::uint8_t c = sextet(text[i + 2]);
    const std::uint8_t d = sextet(text[i + 3]);
    if ((a | b | c | d) == kInvalid) {
      return false;
    }
    const std::uint32_t group = (std::uint32_t{a} << 18) | (std::uint32_t{b} << 12) | (std::uint32_t{c} << 6) | d;
    decoded.push_back(static_cast<char>(group >> 16));
    decoded.push_back(static_cast<char>(group >> 8));
    decoded.push_back(static_cast<char>(group));
  }
  if (padding != 0) {
    const std::size_t i = full_end;
    const std::uint8_t a = sextet(text[i]);
    const std::uint8_t b = sextet(text[i + 1]);
    const std::uint8_t c = padding == 1 ? sextet(text[i + 2]) : 0;
    if ((a | b | c) == kInvalid) {
      return false;
    }
    const std::uint32_t group = (std::uint32_t{a} << 18) | (std::uint32_t{b} << 12) | (std::uint32_t{c} << 6);
    // Bits below the last whole byte must be zero, so each byte string has exactly one encoding.
    if ((group & (padding == 1 ? 0xFFu : 0xFFFFu)) != 0) {
      return false;
    }
    decoded.push_back(static_cast<char>(group >> 16));
    if (padding == 1) {
      decoded.push_back(static_cast<char>(group >> 8));
    }
  }
  out = std::move(decoded);
  return true;
}

}  // namespace iogate::core
