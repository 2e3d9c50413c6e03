#pragma once
// The HTTP request and response as iogate's upper layers see them, and the parts of request
// parsing that are ours: the target's path and query (percent-decoding), header lookup. Beast parses the request head itself (http_connection.cpp).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iogate::net {

enum class Method : std::uint8_t { get, post, options, head, other };

using NameValueList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  Method method = Method::other;
  std::string target;  // as received: path and query
  std::string path;    // percent-decoded
  NameValueList query;    // percent-decoded, in order
  NameValueList headers;  // names lower-cased, in order
  std::string body;
  std::string remote_address;
  bool keep_alive = true;
  bool websocket_upgrade = false;
  unsigned version = 11;

  // First header with this (lower-case) name.
  const std::string* header(std::string_view lower_name) const noexcept;
  // First query parameter with this name.
  const std::string* query_param(std::string_view name) const noexcept;
};

struct HttpResponse {
  unsigned status = 200;
  NameValueList headers;
  std::string body;
  bool close = false;  // send "Connection: close" and close after writing
};

std::string_view reason_phrase(unsigned status) noexcept;

// Splits a request target into decoded path and query. Returns false for a target that is not
// origin-form ("/...") or has bad percent-escapes in the path; bad escapes in query values are
// kept literally, as Node's querystring does.
bool parse_target(std::string_view target, std::string& path, NameValueList& query);

// Percent-decodes `in` ('+' as space when `plus_is_space`). Returns false on a bad escape.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

// Serialises status line, headers, Content-Length and body.
void serialize_response(const HttpResponse& response, bool keep_alive, std::string& out);

}  // namespace iogate::net
