#pragma once
// The HTTP request and response as iogate's upper layers see them, and the parts of request
// parsing that are ours: the target's path and query (percent-decoding), header lookup. Beast parses the request head itself (http_connection.cpp).
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iogate::net {

enum class Method : std::uint8_t { get, post, options, head, other };

using NameValueList = std::vector<std::pair<std::string, std::string>>;

// Names and values packed into one buffer, for copies that live as long as a connection (its
// handshake's headers and query): one allocation and an index instead of two strings per entry.
// Immutable once built; entries read as (name, value) string views, in order.
class PackedNameValues {
 public:
  using Entry = std::pair<std::string_view, std::string_view>;

  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Entry;
    using reference = Entry;
    using pointer = void;
    using difference_type = std::ptrdiff_t;

    const_iterator(const PackedNameValues* owner, std::size_t index) : owner_(owner), index_(index) {}
    Entry operator*() const noexcept { return (*owner_)[index_]; }
    const_iterator& operator++() noexcept {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) noexcept {
      auto before = *this;
      ++index_;
      return before;
    }
    bool operator==(const const_iterator& other) const noexcept { return index_ == other.index_; }

   private:
    const PackedNameValues* owner_;
    std::size_t index_;
  };

  PackedNameValues() = default;
  PackedNameValues(const NameValueList& list);  // NOLINT: implicit, a packed copy
  PackedNameValues(std::initializer_list<Entry> list);

  std::size_t size() const noexcept { return ends_.size() / 2; }
  bool empty() const noexcept { return ends_.empty(); }
  Entry operator[](std::size_t index) const noexcept;
  // The first value under `name` (exact match).
  std::optional<std::string_view> find(std::string_view name) const noexcept;
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, size()}; }

 private:
  template <typename Entries>
  void pack(const Entries& entries);

  std::string text_;                 // name, value, name, value, ... back to back
  std::vector<std::uint32_t> ends_;  // where each name and each value ends in text_
};

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
