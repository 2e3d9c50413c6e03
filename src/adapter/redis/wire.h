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
