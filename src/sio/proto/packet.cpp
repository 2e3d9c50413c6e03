#include "sio/proto/packet.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <system_error>
#include <utility>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serializer.hpp>

#include "core/percent_encoding.h"
#include <boost/json/value_stack.hpp>

namespace iogate::sio {
namespace {

constexpr std::size_t kMaxJsonDepth = 64;
constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

std::size_t skip_digits(std::string_view text, std::size_t pos) noexcept {
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    ++pos;
  }
  return pos;
}

bool is_binary(PacketType type) noexcept {
  return type == PacketType::binary_event || type == PacketType::binary_ack;
}

template <typename Integer>
void append_decimal(std::string& out, Integer value) {
  std::array<char, 24> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), result.ptr);
}

bool has_non_finite(const boost::json::value& value) noexcept {
  switch (value.kind()) {
    case boost::json::kind::double_:
      return !std::isfinite(value.get_double());
    case boost::json::kind::array:
      return std::ranges::any_of(value.get_array(), has_non_finite);
    case boost::json::kind::object:
      return std::ranges::any_of(value.get_object(),
                                 [](const auto& member) { return has_non_finite(member.value()); });
    default:
      return false;
  }
}

// JSON.stringify writes NaN and ±Infinity as null; Boost.JSON 1.81 would write invalid JSON.
void replace_non_finite(boost::json::value& value) noexcept {
  switch (value.kind()) {
    case boost::json::kind::double_:
      if (!std::isfinite(value.get_double())) {
        value.emplace_null();
      }
      break;
    case boost::json::kind::array:
      std::ranges::for_each(value.get_array(), replace_non_finite);
      break;
    case boost::json::kind::object:
      for (auto& member : value.get_object()) {
        replace_non_finite(member.value());
      }
      break;
    default:
      break;
  }
}

// boost::json::parse with the number text of every double reparsed by std::from_chars:
// Boost.JSON 1.81 rounds about one in ten full-precision decimals to a neighbouring double,
// which would change numbers that are only relayed.
class JsonHandler {
 public:
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();

  using error_code = boost::json::error_code;
  using string_view = boost::json::string_view;

  JsonHandler(unsigned char* buffer, std::size_t size) noexcept : stack_({}, buffer, size) {
    stack_.reset();
  }

  boost::json::value release() { return stack_.release(); }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t n, error_code&) {
    stack_.push_object(n);
    return true;
  }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t n, error_code&) {
    stack_.push_array(n);
    return true;
  }
  bool on_key_part(string_view part, std::size_t, error_code&) {
    stack_.push_chars(part);
    return true;
  }
  bool on_key(string_view tail, std::size_t, error_code&) {
    stack_.push_key(tail);
    return true;
  }
  bool on_string_part(string_view part, std::size_t, error_code&) {
    stack_.push_chars(part);
    return true;
  }
  bool on_string(string_view tail, std::size_t, error_code&) {
    stack_.push_string(tail);
    return true;
  }
  bool on_number_part(string_view part, error_code&) {
    number_.append(part.data(), part.size());
    return true;
  }
  bool on_int64(std::int64_t value, string_view, error_code&) {
    number_.clear();
    stack_.push_int64(value);
    return true;
  }
  bool on_uint64(std::uint64_t value, string_view, error_code&) {
    number_.clear();
    stack_.push_uint64(value);
    return true;
  }
  bool on_double(double value, string_view tail, error_code&) {
    std::string_view text(tail.data(), tail.size());
    if (!number_.empty()) {
      number_.append(text);
      text = number_;
    }
    // Out of range leaves `value` as Boost computed it (±infinity or zero).
    std::from_chars(text.data(), text.data() + text.size(), value);
    number_.clear();
    stack_.push_double(value);
    return true;
  }
  bool on_bool(bool value, error_code&) {
    stack_.push_bool(value);
    return true;
  }
  bool on_null(error_code&) {
    stack_.push_null();
    return true;
  }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

 private:
  boost::json::value_stack stack_;
  std::string number_;
};

bool parse_json(std::string_view text, boost::json::value& out) {
  boost::json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  std::array<unsigned char, 1024> buffer;
  boost::json::basic_parser<JsonHandler> parser(options, buffer.data(), buffer.size());
  boost::json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || used != text.size()) {
    return false;
  }
  out = parser.handler().release();
  return true;
}

void append_json(const boost::json::value& value, std::string& out) {
  boost::json::serializer serializer;
  serializer.reset(&value);
  while (!serializer.done()) {
    const std::size_t used = out.size();
    out.resize(std::max(out.capacity(), used + 256));
    const auto written = serializer.read(out.data() + used, out.size() - used);
    out.resize(used + written.size());
  }
}

// Unicode "maximal subpart" replacement, as Node's Buffer#toString decodes bytes.
void append_utf8_lossy(std::string_view bytes, std::string& out) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    if (lead < 0x80) {
      out.push_back(bytes[i++]);
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      low = lead == 0xE0 ? 0xA0 : 0x80;
      high = lead == 0xED ? 0x9F : 0xBF;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      low = lead == 0xF0 ? 0x90 : 0x80;
      high = lead == 0xF4 ? 0x8F : 0xBF;
    } else {
      out += kReplacementCharacter;
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    while (end < i + length && end < bytes.size()) {
      const auto byte = static_cast<unsigned char>(bytes[end]);
      if (byte < low || byte > high) {
        break;
      }
      low = 0x80;
      high = 0xBF;
      ++end;
    }
    if (end == i + length) {
      out.append(bytes.substr(i, length));
    } else {
      out += kReplacementCharacter;
    }
    i = end;
  }
}

// Node's querystring.unescape, then UTF-8 as JavaScript strings hold it.
std::string query_unescape(std::string_view text) {
  std::string bytes = core::query_unescape(text);
  std::string decoded;
  decoded.reserve(bytes.size());
  append_utf8_lossy(bytes, decoded);
  return decoded;
}

// socket.io's client.js reads a protocol-4 CONNECT's auth with url.parse(nsp, true).query.
// A repeated key keeps its last value so that every value stays a string.
boost::json::object parse_query(std::string_view query) {
  boost::json::object params;
  while (!query.empty()) {
    const std::size_t ampersand = query.find('&');
    const std::string_view pair = query.substr(0, ampersand);
    query = ampersand == std::string_view::npos ? std::string_view{} : query.substr(ampersand + 1);
    if (pair.empty()) {
      continue;
    }
    const std::size_t equals = pair.find('=');
    std::string value =
        equals == std::string_view::npos ? std::string{} : query_unescape(pair.substr(equals + 1));
    params.insert_or_assign(query_unescape(pair.substr(0, equals)), std::move(value));
  }
  return params;
}

// socket.io-parser isPayloadValid; `payload` is null when the text carries none. Unlike the
// reference, events and acks must carry one.
bool is_payload_valid(PacketType type, const boost::json::value* payload) noexcept {
  switch (type) {
    case PacketType::connect:
      return payload == nullptr || payload->is_object();
    case PacketType::disconnect:
      return payload == nullptr;
    case PacketType::connect_error:
      return payload == nullptr || payload->is_string() || payload->is_object();
    case PacketType::event:
    case PacketType::binary_event: {
      if (payload == nullptr || !payload->is_array() || payload->get_array().empty()) {
        return false;
      }
      const boost::json::value& name = payload->get_array().front();
      return name.is_number() || (name.is_string() && !is_reserved_event_name(name.get_string()));
    }
    case PacketType::ack:
    case PacketType::binary_ack:
      return payload != nullptr && payload->is_array();
  }
  return false;
}

// binary.js _reconstructPacket: every {"_placeholder":true} object must index an attachment;
// placeholders are not searched further.
bool are_placeholders_valid(const boost::json::value& value, std::size_t count) noexcept {
  if (const auto* array = value.if_array()) {
    return std::ranges::all_of(*array, [count](const boost::json::value& item) {
      return are_placeholders_valid(item, count);
    });
  }
  const auto* object = value.if_object();
  if (object == nullptr) {
    return true;
  }
  if (is_placeholder(*object)) {
    return placeholder_index(*object, count).has_value();
  }
  return std::ranges::all_of(*object, [count](const auto& member) {
    return are_placeholders_valid(member.value(), count);
  });
}

}  // namespace

bool is_placeholder(const boost::json::object& object) noexcept {
  const auto* flag = object.if_contains("_placeholder");
  return flag != nullptr && flag->is_bool() && flag->get_bool();
}

std::optional<std::size_t> placeholder_index(const boost::json::object& object,
                                             std::size_t attachment_count) noexcept {
  const auto* num = is_placeholder(object) ? object.if_contains("num") : nullptr;
  if (num == nullptr) {
    return std::nullopt;
  }
  switch (num->kind()) {
    case boost::json::kind::int64:
      if (num->get_int64() >= 0 && static_cast<std::uint64_t>(num->get_int64()) < attachment_count) {
        return static_cast<std::size_t>(num->get_int64());
      }
      return std::nullopt;
    case boost::json::kind::uint64:
      if (num->get_uint64() < attachment_count) {
        return static_cast<std::size_t>(num->get_uint64());
      }
      return std::nullopt;
    case boost::json::kind::double_: {
      const double index = num->get_double();
      if (index >= 0 && index < static_cast<double>(attachment_count) && std::floor(index) == index) {
        return static_cast<std::size_t>(index);
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

bool is_reserved_event_name(std::string_view name) noexcept {
  constexpr std::array<std::string_view, 6> kReserved{
      "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"};
  return std::ranges::find(kReserved, name) != kReserved.end();
}

void encode_packet(const Packet& packet, std::string& out) {
  // The type follows the attachments: socket.io-parser refuses a binary count of 0.
  PacketType type = packet.type;
  if (!packet.attachments.empty()) {
    if (type == PacketType::event) {
      type = PacketType::binary_event;
    } else if (type == PacketType::ack) {
      type = PacketType::binary_ack;
    }
  } else if (type == PacketType::binary_event) {
    type = PacketType::event;
  } else if (type == PacketType::binary_ack) {
    type = PacketType::ack;
  }
  out.push_back(static_cast<char>('0' + static_cast<int>(type)));
  if (is_binary(type)) {
    append_decimal(out, packet.attachments.size());
    out.push_back('-');
  }
  if (packet.nsp != "/") {
    out += packet.nsp;
    out.push_back(',');
  }
  if (packet.id) {
    append_decimal(out, *packet.id);
  }
  if (packet.data.is_null()) {
    return;
  }
  if (has_non_finite(packet.data)) {
    boost::json::value finite = packet.data;
    replace_non_finite(finite);
    append_json(finite, out);
  } else {
    append_json(packet.data, out);
  }
}

std::string encode_packet(const Packet& packet) {
  std::string out;
  encode_packet(packet, out);
  return out;
}

std::string_view to_string(DecodeError error) noexcept {
  switch (error) {
    case DecodeError::none:
      return "no error";
    case DecodeError::unknown_packet_type:
      return "unknown packet type";
    case DecodeError::illegal_attachments:
      return "illegal attachments";
    case DecodeError::too_many_attachments:
      return "too many attachments";
    case DecodeError::invalid_ack_id:
      return "invalid ack id";
    case DecodeError::invalid_json:
      return "invalid json";
    case DecodeError::invalid_payload:
      return "invalid payload";
    case DecodeError::unexpected_text:
      return "got plaintext data when reconstructing a packet";
    case DecodeError::unexpected_binary:
      return "got binary data when not reconstructing a packet";
  }
  return "unknown error";
}

Decoder::Status Decoder::feed_text(std::string_view text) {
  if (error_ != DecodeError::none) {
    return Status::failed;
  }
  if (expected_attachments_ != 0) {
    return fail(DecodeError::unexpected_text);
  }
  pending_ = Packet{};
  if (text.empty() || text[0] < '0' || text[0] > '6') {
    return fail(DecodeError::unknown_packet_type);
  }
  pending_.type = static_cast<PacketType>(text[0] - '0');
  std::size_t pos = 1;

  std::size_t attachments = 0;
  if (is_binary(pending_.type)) {
    const std::size_t digits_end = skip_digits(text, pos);
    if (digits_end == pos || digits_end == text.size() || text[digits_end] != '-') {
      return fail(DecodeError::illegal_attachments);
    }
    // On digits alone from_chars fails only when the count exceeds size_t.
    if (std::from_chars(text.data() + pos, text.data() + digits_end, attachments).ec !=
            std::errc{} ||
        attachments > max_attachments_) {
      return fail(DecodeError::too_many_attachments);
    }
    // socket.io-parser 4.2.x: "n < 1" is illegal.
    if (attachments == 0) {
      return fail(DecodeError::illegal_attachments);
    }
    pos = digits_end + 1;
  }

  std::string_view nsp = "/";
  if (pos < text.size() && text[pos] == '/') {
    const std::size_t comma = text.find(',', pos);
    const std::size_t end = comma == std::string_view::npos ? text.size() : comma;
    nsp = text.substr(pos, end - pos);
    pos = comma == std::string_view::npos ? text.size() : comma + 1;
  }

  if (const std::size_t digits_end = skip_digits(text, pos); digits_end != pos) {
    std::uint64_t id = 0;
    if (std::from_chars(text.data() + pos, text.data() + digits_end, id).ec != std::errc{} ||
        id > kMaxAckId) {
      return fail(DecodeError::invalid_ack_id);
    }
    pending_.id = id;
    pos = digits_end;
  }

  const bool has_payload = pos < text.size();
  if (has_payload) {
    if (!parse_json(text.substr(pos), pending_.data)) {
      return fail(DecodeError::invalid_json);
    }
  }
  if (!is_payload_valid(pending_.type, has_payload ? &pending_.data : nullptr)) {
    return fail(DecodeError::invalid_payload);
  }

  if (version_ == ProtocolVersion::v4) {
    if (const std::size_t query = nsp.find('?'); query != std::string_view::npos) {
      if (pending_.type == PacketType::connect) {
        pending_.data = parse_query(nsp.substr(query + 1));
      }
      nsp = nsp.substr(0, query);
    }
  }
  pending_.nsp = nsp;

  if (!is_binary(pending_.type)) {
    return Status::packet_ready;
  }
  expected_attachments_ = attachments;
  return Status::need_attachments;
}

Decoder::Status Decoder::feed_binary(std::string_view bytes) {
  if (error_ != DecodeError::none) {
    return Status::failed;
  }
  if (expected_attachments_ == 0) {
    return fail(DecodeError::unexpected_binary);
  }
  pending_.attachments.emplace_back(bytes);
  if (pending_.attachments.size() < expected_attachments_) {
    return Status::need_attachments;
  }
  return finish_binary();
}

Decoder::Status Decoder::fail(DecodeError error) noexcept {
  error_ = error;
  return Status::failed;
}

Decoder::Status Decoder::finish_binary() {
  expected_attachments_ = 0;
  if (!are_placeholders_valid(pending_.data, pending_.attachments.size())) {
    return fail(DecodeError::illegal_attachments);
  }
  return Status::packet_ready;
}

}  // namespace iogate::sio
