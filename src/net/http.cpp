#include "net/http.h"

#include <charconv>

#include "core/percent_encoding.h"

namespace iogate::net {

template <typename Entries>
void PackedNameValues::pack(const Entries& entries) {
  std::size_t bytes = 0;
  for (const auto& [name, value] : entries) {
    bytes += name.size() + value.size();
  }
  text_.reserve(bytes);
  ends_.reserve(entries.size() * 2);
  for (const auto& [name, value] : entries) {
    text_.append(name);
    ends_.push_back(static_cast<std::uint32_t>(text_.size()));
    text_.append(value);
    ends_.push_back(static_cast<std::uint32_t>(text_.size()));
  }
}

PackedNameValues::PackedNameValues(const NameValueList& list) { pack(list); }

PackedNameValues::PackedNameValues(std::initializer_list<Entry> list) { pack(list); }

PackedNameValues::Entry PackedNameValues::operator[](std::size_t index) const noexcept {
  const std::string_view text = text_;
  const std::size_t name_begin = index == 0 ? 0 : ends_[2 * index - 1];
  const std::size_t name_end = ends_[2 * index];
  const std::size_t value_end = ends_[2 * index + 1];
  return {text.substr(name_begin, name_end - name_begin), text.substr(name_end, value_end - name_end)};
}

std::optional<std::string_view> PackedNameValues::find(std::string_view name) const noexcept {
  for (const auto& [key, value] : *this) {
    if (key == name) {
      return value;
    }
  }
  return std::nullopt;
}

const std::string* HttpRequest::header(std::string_view lower_name) const noexcept {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) {
      return &value;
    }
  }
  return nullptr;
}

const std::string* HttpRequest::query_param(std::string_view name) const noexcept {
  for (const auto& [key, value] : query) {
    if (key == name) {
      return &value;
    }
  }
  return nullptr;
}

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return false;
      }
      int high = core::hex_value(in[i + 1]);
      int low = core::hex_value(in[i + 2]);
      if (high < 0 || low < 0) {
        return false;
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool parse_target(std::string_view target, std::string& path, NameValueList& query) {
  query.clear();
  if (target.empty() || target.front() != '/') {
    return false;
  }
  // The fragment ends the target wherever it is, before any '?' as well as after one.
  target = target.substr(0, target.find('#'));
  std::size_t question = target.find('?');
  std::string_view raw_path = target.substr(0, question);
  if (!percent_decode(raw_path, path, false)) {
    return false;
  }
  if (question == std::string_view::npos) {
    return true;
  }
  std::string_view rest = target.substr(question + 1);
  while (!rest.empty()) {
    std::size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    std::size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    query.emplace_back(core::query_unescape(key), core::query_unescape(value));
  }
  return true;
}

std::string_view reason_phrase(unsigned status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 401: return "Unauthorized";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

void serialize_response(const HttpResponse& response, bool keep_alive, std::string& out) {
  char digits[24];
  out.append("HTTP/1.1 ");
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, response.status);
  out.append(digits, end);
  out.push_back(' ');
  out.append(reason_phrase(response.status));
  out.append("\r\n");
  for (const auto& [name, value] : response.headers) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (response.status != 101 && response.status != 204) {
    auto [len_end, len_ec] = std::to_chars(digits, digits + sizeof digits, response.body.size());
    out.append("Content-Length: ").append(digits, len_end).append("\r\n");
  }
  if (response.status != 101) {
    out.append(keep_alive && !response.close ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  }
  out.append("\r\n");
  out.append(response.body);
}

}  // namespace iogate::net
