#include "adapter/redis/wire.h"

#include <msgpuck.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "core/utf8.h"

namespace iogate::adapter::redis {

namespace json = boost::json;

namespace {

// As the Socket.IO text decoder: deeper payloads are refused on every path.
constexpr std::size_t kMaxDepth = 64;

// ---------------------------------------------------------------------------------------------
// Encoding

class Writer {
 public:
  std::string take() { return std::move(out_); }

  void array(std::size_t size) {
    char* at = grow(mp_sizeof_array(length(size)));
    mp_encode_array(at, length(size));
  }
  void map(std::size_t size) {
    char* at = grow(mp_sizeof_map(length(size)));
    mp_encode_map(at, length(size));
  }
  void str(std::string_view text) {
    char* at = grow(mp_sizeof_str(length(text.size())));
    mp_encode_str(at, text.data(), length(text.size()));
  }
  void bin(std::string_view bytes) {
    char* at = grow(mp_sizeof_bin(length(bytes.size())));
    mp_encode_bin(at, bytes.data(), length(bytes.size()));
  }
  void uint(std::uint64_t value) {
    char* at = grow(mp_sizeof_uint(value));
    mp_encode_uint(at, value);
  }
  // notepack writes every integer in its smallest form, non-negative ones as unsigned.
  void integer(std::int64_t value) {
    if (value >= 0) {
      uint(static_cast<std::uint64_t>(value));
      return;
    }
    char* at = grow(mp_sizeof_int(value));
    mp_encode_int(at, value);
  }
  void float64(double value) {
    char* at = grow(mp_sizeof_double(value));
    mp_encode_double(at, value);
  }
  void boolean(bool value) {
    char* at = grow(mp_sizeof_bool(value));
    mp_encode_bool(at, value);
  }
  void nil() {
    char* at = grow(mp_sizeof_nil());
    mp_encode_nil(at);
  }

 private:
  static std::uint32_t length(std::size_t size) {
    if (size > std::numeric_limits<std::uint32_t>::max()) {
      throw std::length_error("msgpack length over 2^32");
    }
    return static_cast<std::uint32_t>(size);
  }
  char* grow(std::size_t bytes) {
    const std::size_t at = out_.size();
    out_.resize(at + bytes);
    return out_.data() + at;
  }

  std::string out_;
};

void write_value(Writer& writer, const json::value& value,
                 const std::vector<std::string>& attachments) {
  switch (value.kind()) {
    case json::kind::null:
      writer.nil();
      return;
    case json::kind::bool_:
      writer.boolean(value.get_bool());
      return;
    case json::kind::int64:
      writer.integer(value.get_int64());
      return;
    case json::kind::uint64:
      writer.uint(value.get_uint64());
      return;
    case json::kind::double_:
      writer.float64(value.get_double());
      return;
    case json::kind::string:
      writer.str(value.get_string());
      return;
    case json::kind::array:
      writer.array(value.get_array().size());
      for (const auto& item : value.get_array()) {
        write_value(writer, item, attachments);
      }
      return;
    case json::kind::object: {
      const auto& object = value.get_object();
      if (const auto index = sio::placeholder_index(object, attachments.size())) {
        writer.bin(attachments[*index]);
        return;
      }
      writer.map(object.size());
      for (const auto& member : object) {
        writer.str(member.key());
        write_value(writer, member.value(), attachments);
      }
      return;
    }
  }
}

void write_strings(Writer& writer, const std::vector<std::string>& strings) {
  writer.array(strings.size());
  for (const auto& item : strings) {
    writer.str(item);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding. mp_check validates the whole message first; the reader still bounds-checks every
// step because msgpuck 1.0.3's mp_check wraps its element counter on 32-bit array/map lengths
// (0xdd ffffffff passes it).

class Reader {
 public:
  explicit Reader(std::string_view bytes) : at_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  bool at_end() const noexcept { return at_ == end_; }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - at_); }

  std::optional<mp_type> peek() const noexcept {
    if (at_ == end_) {
      return std::nullopt;
    }
    return mp_typeof(*at_);
  }

  // Element count of an array (or pairs of a map), refusing counts the rest cannot hold.
  std::optional<std::size_t> container(mp_type type) noexcept {
    if (peek() != type) {
      return std::nullopt;
    }
    const auto first = static_cast<std::uint8_t>(*at_);
    const std::size_t header = (first == 0xdc || first == 0xde)   ? 3
                               : (first == 0xdd || first == 0xdf) ? 5
                                                                  : 1;
    if (remaining() < header) {
      return std::nullopt;
    }
    const std::size_t count = type == MP_ARRAY ? mp_decode_array(&at_) : mp_decode_map(&at_);
    const std::size_t minimum = type == MP_ARRAY ? count : count * 2;
    if (minimum > remaining()) {
      return std::nullopt;
    }
    return count;
  }

  std::optional<std::string_view> str() noexcept { return bytes(MP_STR); }
  std::optional<std::string_view> bin() noexcept { return bytes(MP_BIN); }

  std::optional<std::string_view> bytes(mp_type type) noexcept {
    if (peek() != type) {
      return std::nullopt;
    }
    const auto first = static_cast<std::uint8_t>(*at_);
    std::size_t header = 1;
    if (first == 0xd9 || first == 0xc4) {
      header = 2;
    } else if (first == 0xda || first == 0xc5) {
      header = 3;
    } else if (first == 0xdb || first == 0xc6) {
      header = 5;
    }
    if (remaining() < header) {
      return std::nullopt;
    }
    const char* cursor = at_;
    std::uint32_t size = 0;
    const char* data =
        type == MP_STR ? mp_decode_str(&cursor, &size) : mp_decode_bin(&cursor, &size);
    if (static_cast<std::size_t>(end_ - data) < size) {
      return std::nullopt;
    }
    at_ = cursor;
    return std::string_view(data, size);
  }

  // A msgpack timestamp (ext type -1 in its 32, 64 or 96-bit form) as Date.toISOString()
  // writes it, for years 0 to 9999; nullopt for anything else.
  std::optional<std::string> timestamp_iso() noexcept {
    auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(at_[i]); };
    auto big_endian = [&](std::size_t from, std::size_t count) {
      std::uint64_t value = 0;
      for (std::size_t i = 0; i < count; ++i) {
        value = (value << 8) | byte(from + i);
      }
      return value;
    };
    std::int64_t seconds = 0;
    std::uint64_t nanoseconds = 0;
    std::size_t size = 0;
    if (remaining() >= 6 && byte(0) == 0xd6 && byte(1) == 0xff) {
      seconds = static_cast<std::int64_t>(big_endian(2, 4));
      size = 6;
    } else if (remaining() >= 10 && byte(0) == 0xd7 && byte(1) == 0xff) {
      const std::uint64_t packed = big_endian(2, 8);
      nanoseconds = packed >> 34;
      seconds = static_cast<std::int64_t>(packed & 0x3ffffffffULL);
      size = 10;
    } else if (remaining() >= 15 && byte(0) == 0xc7 && byte(1) == 12 && byte(2) == 0xff) {
      nanoseconds = big_endian(3, 4);
      seconds = static_cast<std::int64_t>(big_endian(7, 8));
      size = 15;
    } else {
      return std::nullopt;
    }
    constexpr std::int64_t kYear0 = -62167219200;      // 0000-01-01T00:00:00Z
    constexpr std::int64_t kYear10000 = 253402300800;  // 10000-01-01T00:00:00Z
    if (nanoseconds >= 1'000'000'000 || seconds < kYear0 || seconds >= kYear10000) {
      return std::nullopt;
    }
    std::time_t time = static_cast<std::time_t>(seconds);
    std::tm tm{};
    if (gmtime_r(&time, &tm) == nullptr) {
      return std::nullopt;
    }
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(nanoseconds / 1'000'000));
    at_ += size;
    return std::string(text);
  }

  // Fixed-size scalars: the header byte decides the size.
  bool has_scalar() const noexcept {
    if (at_ == end_) {
      return false;
    }
    std::size_t size = 1;
    switch (static_cast<std::uint8_t>(*at_)) {
      case 0xcc: case 0xd0: size = 2; break;
      case 0xcd: case 0xd1: size = 3; break;
      case 0xce: case 0xd2: case 0xca: size = 5; break;
      case 0xcf: case 0xd3: case 0xcb: size = 9; break;
      default: break;
    }
    return remaining() >= size;
  }

  const char*& cursor() noexcept { return at_; }

 private:
  const char* at_;
  const char* end_;
};

bool read_value(Reader& reader, json::value& out, std::vector<std::string>& attachments,
                std::size_t depth) {
  if (depth > kMaxDepth) {
    return false;
  }
  const auto type = reader.peek();
  if (!type) {
    return false;
  }
  switch (*type) {
    case MP_NIL:
      if (!reader.has_scalar()) return false;
      mp_decode_nil(&reader.cursor());
      out = nullptr;
      return true;
    case MP_BOOL:
      if (!reader.has_scalar()) return false;
      out = mp_decode_bool(&reader.cursor());
      return true;
    case MP_UINT:
      if (!reader.has_scalar()) return false;
      {
        const std::uint64_t value = mp_decode_uint(&reader.cursor());
        if (value <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          out = static_cast<std::int64_t>(value);
        } else {
          out = value;
        }
      }
      return true;
    case MP_INT:
      if (!reader.has_scalar()) return false;
      out = mp_decode_int(&reader.cursor());
      return true;
    case MP_FLOAT:
      if (!reader.has_scalar()) return false;
      out = static_cast<double>(mp_decode_float(&reader.cursor()));
      return true;
    case MP_DOUBLE:
      if (!reader.has_scalar()) return false;
      out = mp_decode_double(&reader.cursor());
      return true;
    case MP_STR: {
      const auto text = reader.str();
      if (!text || !core::is_valid_utf8(*text)) {
        return false;
      }
      out = json::string(*text);
      return true;
    }
    case MP_BIN: {
      const auto bytes = reader.bin();
      if (!bytes) {
        return false;
      }
      attachments.emplace_back(*bytes);
      out = json::object{{"_placeholder", true}, {"num", attachments.size() - 1}};
      return true;
    }
    case MP_ARRAY: {
      const auto count = reader.container(MP_ARRAY);
      if (!count) {
        return false;
      }
      json::array array;
      array.reserve(*count);
      for (std::size_t i = 0; i < *count; ++i) {
        if (!read_value(reader, array.emplace_back(nullptr), attachments, depth + 1)) {
          return false;
        }
      }
      out = std::move(array);
      return true;
    }
    case MP_MAP: {
      const auto count = reader.container(MP_MAP);
      if (!count) {
        return false;
      }
      json::object object;
      object.reserve(*count);
      for (std::size_t i = 0; i < *count; ++i) {
        const auto key = reader.str();
        if (!key || !core::is_valid_utf8(*key)) {
          return false;
        }
        // A duplicate would drop a value, and with it maybe an attachment still counted.
        if (object.contains(*key)) {
          return false;
        }
        json::value item;
        if (!read_value(reader, item, attachments, depth + 1)) {
          return false;
        }
        object.emplace(*key, std::move(item));
      }
      // A map that looks like a placeholder would be read as binary by us and by the clients'
      // socket.io-parser: it cannot be carried faithfully.
      if (sio::is_placeholder(object)) {
        return false;
      }
      out = std::move(object);
      return true;
    }
    case MP_EXT: {
      // notepack.io writes a JavaScript Date as the msgpack timestamp (ext -1); Node peers then
      // send it to clients as JSON.stringify does: its ISO string. Other extensions are refused.
      auto date = reader.timestamp_iso();
      if (!date) {
        return false;
      }
      out = json::string(*date);
      return true;
    }
  }
  return false;
}

// A value read and thrown away (unknown keys), with the same limits as kept values.
bool skip_value(Reader& reader) {
  json::value ignored;
  std::vector<std::string> attachments;
  return read_value(reader, ignored, attachments, 1);
}

bool read_strings(Reader& reader, std::vector<std::string>& out) {
  const auto count = reader.container(MP_ARRAY);
  if (!count) {
    return false;
  }
  out.clear();
  out.reserve(*count);
  for (std::size_t i = 0; i < *count; ++i) {
    const auto type = reader.peek();
    // Node allows numeric room names; they travel as numbers.
    if (type == MP_UINT || type == MP_INT) {
      json::value number;
      std::vector<std::string> unused;
      if (!read_value(reader, number, unused, 1)) {
        return false;
      }
      out.push_back(number.is_int64() ? std::to_string(number.get_int64())
                                      : std::to_string(number.get_uint64()));
      continue;
    }
    const auto text = reader.str();
    if (!text || !core::is_valid_utf8(*text)) {
      return false;
    }
    out.emplace_back(*text);
  }
  return true;
}

// Absent keys never reach here, as notepack drops undefined members; nil is read as absent.
bool read_flag(Reader& reader, bool& flag) {
  if (reader.peek() == MP_NIL) {
    mp_decode_nil(&reader.cursor());
    return true;
  }
  if (reader.peek() != MP_BOOL) {
    return false;
  }
  flag = mp_decode_bool(&reader.cursor());
  return true;
}

bool read_timeout(Reader& reader, std::optional<std::chrono::milliseconds>& timeout) {
  json::value number;
  std::vector<std::string> unused;
  if (!read_value(reader, number, unused, 1)) {
    return false;
  }
  if (number.is_null()) {
    return true;
  }
  constexpr double kMaxMilliseconds = 1e15;  // far beyond any timer, far below overflow
  double value = 0;
  if (number.is_int64()) {
    value = static_cast<double>(number.get_int64());
  } else if (number.is_uint64()) {
    value = static_cast<double>(number.get_uint64());
  } else if (number.is_double()) {
    value = number.get_double();
  } else {
    return false;
  }
  if (!(value >= 0 && value <= kMaxMilliseconds)) {
    return false;
  }
  timeout = std::chrono::milliseconds(static_cast<std::int64_t>(value));
  return true;
}

// Walks a map whose keys are strings; read_member(key) must consume the member's value.
template <class ReadMember>
bool read_map(Reader& reader, ReadMember&& read_member) {
  const auto count = reader.container(MP_MAP);
  if (!count) {
    return false;
  }
  for (std::size_t i = 0; i < *count; ++i) {
    const auto key = reader.str();
    if (!key || !read_member(*key)) {
      return false;
    }
  }
  return true;
}

bool read_flags(Reader& reader, sio::BroadcastFlags& flags) {
  return read_map(reader, [&](std::string_view key) {
    if (key == "volatile") {
      return read_flag(reader, flags.is_volatile);
    }
    if (key == "compress") {
      return read_flag(reader, flags.compress);
    }
    if (key == "local") {
      return read_flag(reader, flags.local);
    }
    if (key == "timeout") {
      return read_timeout(reader, flags.timeout);
    }
    return skip_value(reader);
  });
}

bool read_options(Reader& reader, sio::BroadcastOptions& options) {
  return read_map(reader, [&](std::string_view key) {
    if (key == "rooms") {
      return read_strings(reader, options.rooms);
    }
    if (key == "except") {
      return read_strings(reader, options.except);
    }
    if (key == "flags") {
      return read_flags(reader, options.flags);
    }
    return skip_value(reader);
  });
}

bool read_packet(Reader& reader, sio::Packet& packet) {
  bool has_type = false;
  bool has_data = false;
  bool ok = read_map(reader, [&](std::string_view key) {
    if (key == "type") {
      if (reader.peek() != MP_UINT || !reader.has_scalar()) {
        return false;
      }
      const std::uint64_t type = mp_decode_uint(&reader.cursor());
      // Node writes EVENT even with binary; BINARY_EVENT would mean the same.
      has_type = type == static_cast<std::uint64_t>(sio::PacketType::event) ||
                 type == static_cast<std::uint64_t>(sio::PacketType::binary_event);
      return has_type;
    }
    if (key == "data") {
      packet.attachments.clear();
      has_data = read_value(reader, packet.data, packet.attachments, 1);
      return has_data;
    }
    if (key == "nsp") {
      const auto nsp = reader.str();
      if (!nsp || !core::is_valid_utf8(*nsp)) {
        return false;
      }
      packet.nsp = std::string(*nsp);
      return true;
    }
    return skip_value(reader);
  });
  if (!ok) {
    return false;
  }
  // An event is ["name", ...args]; anything else cannot reach a client.
  const auto* data = packet.data.if_array();
  return has_type && has_data && data != nullptr && !data->empty() && data->front().is_string();
}

// Exactly one well-formed msgpack value, nothing after it.
bool is_one_msgpack_value(std::string_view bytes) {
  const char* check = bytes.data();
  return !bytes.empty() && mp_check(&check, bytes.data() + bytes.size()) == 0 && check == bytes.data() + bytes.size();
}

std::string join(std::initializer_list<std::string_view> parts) {
  std::size_t size = 0;
  for (const auto part : parts) {
    size += part.size();
  }
  std::string out;
  out.reserve(size);
  for (const auto part : parts) {
    out.append(part);
  }
  return out;
}

}  // namespace

std::string encode_broadcast(std::string_view uid, const sio::Packet& packet,
                             const sio::BroadcastOptions& options) {
  Writer writer;
  writer.array(3);
  writer.str(uid);

  writer.map(3);
  writer.str("type");
  // Node publishes EVENT and lets each receiver re-encode binary for its clients.
  const bool is_event = packet.type == sio::PacketType::event ||
                        packet.type == sio::PacketType::binary_event;
  writer.uint(is_event ? static_cast<std::uint64_t>(sio::PacketType::event)
                       : static_cast<std::uint64_t>(packet.type));
  writer.str("data");
  write_value(writer, packet.data, packet.attachments);
  writer.str("nsp");
  writer.str(packet.nsp);

  writer.map(3);
  writer.str("rooms");
  write_strings(writer, options.rooms);
  writer.str("except");
  write_strings(writer, options.except);
  writer.str("flags");
  const auto& flags = options.flags;
  const auto count = [](bool set) { return set ? std::size_t{1} : std::size_t{0}; };
  writer.map(count(flags.is_volatile) + count(!flags.compress) + count(flags.local) +
             count(flags.timeout.has_value()));
  if (flags.is_volatile) {
    writer.str("volatile");
    writer.boolean(true);
  }
  if (!flags.compress) {
    writer.str("compress");
    writer.boolean(false);
  }
  if (flags.local) {
    writer.str("local");
    writer.boolean(true);
  }
  if (flags.timeout) {
    writer.str("timeout");
    writer.integer(flags.timeout->count());
  }
  return writer.take();
}

std::optional<BroadcastMessage> decode_broadcast(std::string_view bytes) {
  if (!is_one_msgpack_value(bytes)) {
    return std::nullopt;
  }
  try {
    Reader reader(bytes);
    if (reader.container(MP_ARRAY) != std::optional<std::size_t>(3)) {
      return std::nullopt;
    }
    BroadcastMessage message;
    const auto uid = reader.str();
    if (!uid) {
      return std::nullopt;
    }
    message.uid = std::string(*uid);
    if (!read_packet(reader, message.packet) || !read_options(reader, message.options) ||
        !reader.at_end()) {
      return std::nullopt;
    }
    return message;
  } catch (const std::exception&) {  // allocation failures on hostile sizes
    return std::nullopt;
  }
}

std::string encode_msgpack(const json::value& value, const std::vector<std::string>& attachments) {
  Writer writer;
  write_value(writer, value, attachments);
  return writer.take();
}

std::optional<Document> decode_msgpack(std::string_view bytes) {
  if (!is_one_msgpack_value(bytes)) {
    return std::nullopt;
  }
  try {
    Reader reader(bytes);
    Document document;
    if (!read_value(reader, document.value, document.attachments, 0) || !reader.at_end()) {
      return std::nullopt;
    }
    return document;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<Document> decode_message(std::string_view bytes) {
  if (!bytes.empty() && bytes.front() == '{') {
    boost::system::error_code error;
    json::value value = json::parse(bytes, error);
    if (error) {
      return std::nullopt;
    }
    return Document{std::move(value), {}};
  }
  return decode_msgpack(bytes);
}

namespace {

json::array strings_to_json(const std::vector<std::string>& strings) {
  json::array out;
  out.reserve(strings.size());
  for (const auto& item : strings) {
    out.emplace_back(item);
  }
  return out;
}

// Room names: strings, or numbers as Node allows them (kept in their decimal form).
bool strings_from_json(const json::value* value, std::vector<std::string>& out) {
  if (value == nullptr || value->is_null()) {
    return true;
  }
  const auto* array = value->if_array();
  if (array == nullptr) {
    return false;
  }
  out.reserve(array->size());
  for (const auto& item : *array) {
    if (item.is_string()) {
      out.emplace_back(item.get_string());
    } else if (item.is_int64()) {
      out.push_back(std::to_string(item.get_int64()));
    } else if (item.is_uint64()) {
      out.push_back(std::to_string(item.get_uint64()));
    } else {
      return false;
    }
  }
  return true;
}

bool flag_from_json(const json::object& flags, std::string_view key, bool& flag) {
  const auto* value = flags.if_contains(key);
  if (value == nullptr || value->is_null()) {
    return true;
  }
  if (!value->is_bool()) {
    return false;
  }
  flag = value->get_bool();
  return true;
}

}  // namespace

json::object options_to_json(const sio::BroadcastOptions& options, bool with_flags) {
  json::object out;
  out["rooms"] = strings_to_json(options.rooms);
  out["except"] = strings_to_json(options.except);
  if (with_flags) {
    json::object flags;
    if (options.flags.is_volatile) {
      flags["volatile"] = true;
    }
    if (!options.flags.compress) {
      flags["compress"] = false;
    }
    if (options.flags.local) {
      flags["local"] = true;
    }
    if (options.flags.timeout) {
      flags["timeout"] = options.flags.timeout->count();
    }
    out["flags"] = std::move(flags);
  }
  return out;
}

std::optional<sio::BroadcastOptions> options_from_json(const json::value& value) {
  const auto* object = value.if_object();
  if (object == nullptr) {
    return std::nullopt;
  }
  sio::BroadcastOptions options;
  if (!strings_from_json(object->if_contains("rooms"), options.rooms) ||
      !strings_from_json(object->if_contains("except"), options.except)) {
    return std::nullopt;
  }
  const auto* flags_value = object->if_contains("flags");
  if (flags_value == nullptr || flags_value->is_null()) {
    return options;
  }
  const auto* flags = flags_value->if_object();
  if (flags == nullptr || !flag_from_json(*flags, "volatile", options.flags.is_volatile) ||
      !flag_from_json(*flags, "compress", options.flags.compress) ||
      !flag_from_json(*flags, "local", options.flags.local)) {
    return std::nullopt;
  }
  if (const auto* timeout = flags->if_contains("timeout"); timeout != nullptr && !timeout->is_null()) {
    constexpr double kMaxMilliseconds = 1e15;  // far beyond any timer, far below overflow
    if (!timeout->is_number()) {
      return std::nullopt;
    }
    const double milliseconds = timeout->to_number<double>();
    if (!(milliseconds >= 0 && milliseconds <= kMaxMilliseconds)) {
      return std::nullopt;
    }
    options.flags.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(milliseconds));
  }
  return options;
}

json::object socket_to_json(const sio::SocketInfo& socket) {
  return json::object{{"id", socket.id},
                      {"handshake", socket.handshake},
                      {"rooms", strings_to_json(socket.rooms)},
                      {"data", socket.data}};
}

std::optional<sio::SocketInfo> socket_from_json(const json::value& value) {
  const auto* object = value.if_object();
  if (object == nullptr) {
    return std::nullopt;
  }
  const auto* id = object->if_contains("id");
  if (id == nullptr || !id->is_string()) {
    return std::nullopt;
  }
  sio::SocketInfo socket;
  socket.id = std::string(id->get_string());
  if (const auto* handshake = object->if_contains("handshake"); handshake != nullptr && handshake->is_object()) {
    socket.handshake = handshake->get_object();
  }
  if (!strings_from_json(object->if_contains("rooms"), socket.rooms)) {
    return std::nullopt;
  }
  // Node's socket.data may be any value; the C++ API keeps objects.
  if (const auto* data = object->if_contains("data"); data != nullptr && data->is_object()) {
    socket.data = data->get_object();
  }
  return socket;
}

std::string broadcast_channel(std::string_view key, std::string_view nsp) {
  return join({key, "#", nsp, "#"});
}

std::string room_channel(std::string_view key, std::string_view nsp, std::string_view room) {
  return join({key, "#", nsp, "#", room, "#"});
}

std::string request_channel(std::string_view key, std::string_view nsp) {
  return join({key, "-request#", nsp, "#"});
}

std::string response_channel(std::string_view key, std::string_view nsp) {
  return join({key, "-response#", nsp, "#"});
}

std::string specific_response_channel(std::string_view key, std::string_view nsp,
                                      std::string_view uid) {
  return join({key, "-response#", nsp, "#", uid, "#"});
}

std::optional<std::string> room_of_channel(std::string_view key, std::string_view nsp,
                                           std::string_view channel) {
  // Matched part by part: this runs for every broadcast a node receives, so no prefix is built.
  std::string_view rest = channel;
  for (const std::string_view part : {key, std::string_view("#"), nsp, std::string_view("#")}) {
    if (!rest.starts_with(part)) {
      return std::nullopt;
    }
    rest.remove_prefix(part.size());
  }
  if (rest.empty()) {
    return std::string();
  }
  if (rest.back() != '#') {
    return std::nullopt;
  }
  rest.remove_suffix(1);
  return std::string(rest);
}

}  // namespace iogate::adapter::redis
