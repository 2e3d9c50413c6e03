#pragma once
// The Redis adapter's wire format, pure: what @socket.io/redis-adapter 8.3 (classic) and
// @socket.io/redis-emitter 5.1 publish for a broadcast, and the channel names they use.
//
// A broadcast is msgpack [uid, {"type":2,"data":[...],"nsp":"/x"}, {"rooms","except","flags"}]
// with binary values as msgpack bin in place; here they become placeholders + attachments, as
// everywhere else in sio.
//
// Example:
//   std::string bytes = encode_broadcast(uid, packet, options);   // PUBLISH room or nsp channel
//   if (auto message = decode_broadcast(bytes)) { deliver(message->packet, message->options); }
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "sio/adapter.h"
#include "sio/proto/packet.h"

namespace iogate::adapter::redis {

struct BroadcastMessage {
  std::string uid;  // the publishing adapter's, or "emitter"
  sio::Packet packet;
  sio::BroadcastOptions options;
};

std::string encode_broadcast(std::string_view uid, const sio::Packet& packet,
                             const sio::BroadcastOptions& options);

// nullopt for anything that is not a well-formed broadcast (never throws on bad input).
std::optional<BroadcastMessage> decode_broadcast(std::string_view bytes);

// Any msgpack document as JSON, with bin values as placeholders into `attachments`, and back:
// the form of the requests and responses Node sends as msgpack (a broadcast with acks, its
// acks, sharded-adapter messages carrying binary). Same limits as decode_broadcast.
struct Document {
  boost::json::value value;
  std::vector<std::string> attachments;
};
std::string encode_msgpack(const boost::json::value& value, const std::vector<std::string>& attachments = {});
std::optional<Document> decode_msgpack(std::string_view bytes);
// A request or response: JSON when it starts with '{', msgpack otherwise (as Node decides).
std::optional<Document> decode_message(std::string_view bytes);

// The JSON forms requests and responses carry: {"rooms","except"[,"flags"]} and a socket as
// fetchSockets() reports it. The decoders take what Node sends (numeric room names included)
// and return nullopt for anything else.
boost::json::object options_to_json(const sio::BroadcastOptions& options, bool with_flags);
std::optional<sio::BroadcastOptions> options_from_json(const boost::json::value& value);
boost::json::object socket_to_json(const sio::SocketInfo& socket);
std::optional<sio::SocketInfo> socket_from_json(const boost::json::value& value);

// "<key>#<nsp>#"
std::string broadcast_channel(std::string_view key, std::string_view nsp);
// "<key>#<nsp>#<room>#"
std::string room_channel(std::string_view key, std::string_view nsp, std::string_view room);
// "<key>-request#<nsp>#"
std::string request_channel(std::string_view key, std::string_view nsp);
// "<key>-response#<nsp>#"
std::string response_channel(std::string_view key, std::string_view nsp);
// "<key>-response#<nsp>#<uid>#"
std::string specific_response_channel(std::string_view key, std::string_view nsp,
                                      std::string_view uid);
// The room part of a broadcast channel of this namespace ("" for the namespace channel), or
// nullopt when `channel` is not one of this namespace's broadcast channels.
std::optional<std::string> room_of_channel(std::string_view key, std::string_view nsp,
                                           std::string_view channel);

}  // namespace iogate::adapter::redis
