#pragma once
// Event arguments as the C++ API carries them: JSON values plus binary attachments. Binary
// values sit in the JSON as {"_placeholder":true,"num":i} objects, exactly as on the wire, so
// a received payload can be re-emitted without re-walking it.
//
// Example:
//   sio::Payload payload;
//   payload.args.emplace_back("photo.png");
//   payload.args.push_back(payload.attach(read_file("photo.png")));
//   socket.emit("upload", std::move(payload));
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

namespace iogate::sio {

struct Payload {
  boost::json::array args;
  std::vector<std::string> attachments;

  Payload() = default;
  Payload(boost::json::array arguments) : args(std::move(arguments)) {}  // NOLINT: implicit on purpose

  // Adds bytes as an attachment; place the returned placeholder where the bytes belong.
  boost::json::value attach(std::string bytes);
  // The bytes `value` stands for, or nullptr when it is not a valid placeholder.
  const std::string* binary(const boost::json::value& value) const noexcept;
};

// A received event: name, arguments and, when the client asked for one, the ack to answer
// with (call it at most once; later calls do nothing).
struct Event {
  std::string name;
  Payload payload;
  std::function<void(Payload)> ack;
  bool wants_ack() const noexcept { return static_cast<bool>(ack); }
};

// Refusal of a connection by a middleware: reaches the client as connect_error.
struct ConnectError {
  std::string message;
  boost::json::value data;  // null: no data
};

// The reply to a server→client ack, or nullopt when the timeout expired first.
using AckHandler = std::function<void(std::optional<Payload>)>;

}  // namespace iogate::sio
