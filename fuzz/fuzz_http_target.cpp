// Runs the request-target parser on arbitrary bytes and checks what it promises: a parsed
// target re-encodes to one that parses to the same path and query, and decoding never grows
// its input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/http.h"

namespace {

using iogate::net::NameValueList;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

void append_encoded(std::string_view in, std::string& out, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : in) {
    auto byte = static_cast<unsigned char>(c);
    if (is_unreserved(byte) || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
}

std::size_t count_of(std::string_view s, char c) {
  std::size_t n = 0;
  for (char x : s) {
    n += x == c ? 1 : 0;
  }
  return n;
}

void check_percent_decode(std::string_view input) {
  for (bool plus_is_space : {false, true}) {
    std::string out;
    if (!iogate::net::percent_decode(input, out, plus_is_space)) {
      check(count_of(input, '%') > 0);
      continue;
    }
    check(out.size() <= input.size());
    check(out.size() == input.size() - 2 * count_of(input, '%'));
    std::string encoded;
    append_encoded(out, encoded, false);
    std::string again;
    check(iogate::net::percent_decode(encoded, again, plus_is_space));
    check(again == out);
  }
}

void check_target(std::string_view input) {
  std::string path;
  NameValueList query;
  const bool ok = iogate::net::parse_target(input, path, query);
  if (input.empty() || input.front() != '/') {
    check(!ok);
  }
  if (!ok) {
    check(query.empty());
    if (!input.empty() && input.front() == '/') {
      // Only a bad escape in the path refuses an origin-form target.
      std::string_view raw_path = input.substr(0, input.find('#'));
      raw_path = raw_path.substr(0, raw_path.find('?'));
      std::string scratch;
      check(!iogate::net::percent_decode(raw_path, scratch, false));
    }
    return;
  }
  check(!path.empty() && path.front() == '/');
  check(path.size() <= input.size());
  std::size_t query_bytes = 0;
  for (const auto& [key, value] : query) {
    query_bytes += key.size() + value.size();
  }
  check(path.size() + query_bytes <= input.size());
  check(query.size() <= count_of(input, '&') + 1);

  std::string encoded;
  append_encoded(path, encoded, true);
  if (!query.empty()) {
    encoded.push_back('?');
    for (std::size_t i = 0; i < query.size(); ++i) {
      if (i > 0) {
        encoded.push_back('&');
      }
      append_encoded(query[i].first, encoded, false);
      encoded.push_back('=');
      append_encoded(query[i].second, encoded, false);
    }
  }
  std::string path_again;
  NameValueList query_again;
  check(iogate::net::parse_target(encoded, path_again, query_again));
  check(path_again == path);
  check(query_again == query);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_target(input);
  check_percent_decode(input);
  return 0;
}
