#pragma once
// The seam between the server core and the way broadcasts reach sockets. The core talks only
// to an Adapter; the in-memory adapter delivers to this process's sockets, a cluster adapter
// also forwards to other nodes. Adapters reach sockets only through LocalSockets: they never
// see connections.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "sio/payload.h"
#include "sio/proto/packet.h"

namespace iogate::sio {

struct BroadcastFlags {
  bool local = false;      // this node only
  bool is_volatile = false;  // may be dropped when a connection is not writable
  bool compress = true;
  std::optional<std::chrono::milliseconds> timeout;  // for broadcasts with acks
};

// Sockets in any of `rooms` (all sockets when empty) that are in none of `except`.
struct BroadcastOptions {
  std::vector<std::string> rooms;
  std::vector<std::string> except;
  BroadcastFlags flags;
};

// A socket as fetchSockets() reports it, local or remote.
struct SocketInfo {
  std::string id;
  std::string nsp;
  boost::json::object handshake;  // headers, time, address, xdomain, secure, issued, url, query, auth
  std::vector<std::string> rooms;
  boost::json::object data;
};

// Progress of a broadcast with acks: how many servers will report, how many clients each one
// reached, and every ack as it arrives. Calls may come from any thread.
struct AckSink {
  std::function<void(std::size_t servers)> expect_servers;
  std::function<void(std::size_t clients)> client_count;
  std::function<void(Payload reply)> ack;
};

// Answers a server-side event that asked for one; the first call counts, later ones do nothing.
using ServerSideReply = std::function<void(boost::json::value)>;
// The sockets a fetch found. error is set when some node did not answer within the cluster's
// requests timeout (Node's fetchSockets rejects then); sockets holds those of the nodes that did.
using FetchCallback = std::function<void(std::optional<std::string> error, std::vector<SocketInfo> sockets)>;

// Every answer to a server-side event with acks; error is set when some node did not answer
// in time (replies then holds the answers that came).
using ServerSideAckCollector =
    std::function<void(std::optional<std::string> error, std::vector<boost::json::value> replies)>;

// This node's sockets of one namespace, on every shard.
class LocalSockets {
 public:
  virtual void broadcast(const Packet& packet, const BroadcastOptions& options) = 0;
  // Reports one client_count for the whole node, then each ack.
  virtual void broadcast_with_ack(const Packet& packet, const BroadcastOptions& options,
                                  std::shared_ptr<AckSink> sink) = 0;
  virtual void add_sockets(const BroadcastOptions& options, std::vector<std::string> rooms) = 0;
  virtual void del_sockets(const BroadcastOptions& options, std::vector<std::string> rooms) = 0;
  virtual void disconnect_sockets(const BroadcastOptions& options, bool close) = 0;
  virtual void fetch_sockets(const BroadcastOptions& options,
                             std::function<void(std::vector<SocketInfo>)> done) = 0;
  // Every room with a socket on this node, socket-id rooms included, each once.
  virtual void local_rooms(std::function<void(std::vector<std::string>)> done) = 0;
  // A server-side event from another node: data is [event, ...args]; reply is empty unless the
  // sender waits for an answer.
  virtual void server_side_event(boost::json::array data, ServerSideReply reply) = 0;

 protected:
  ~LocalSockets() = default;
};

class Adapter {
 public:
  virtual ~Adapter() = default;

  virtual void broadcast(const Packet& packet, const BroadcastOptions& options) = 0;
  virtual void broadcast_with_ack(const Packet& packet, const BroadcastOptions& options,
                                  std::shared_ptr<AckSink> sink) = 0;
  virtual void add_sockets(const BroadcastOptions& options, std::vector<std::string> rooms) = 0;
  virtual void del_sockets(const BroadcastOptions& options, std::vector<std::string> rooms) = 0;
  virtual void disconnect_sockets(const BroadcastOptions& options, bool close) = 0;
  virtual void fetch_sockets(const BroadcastOptions& options, FetchCallback done) = 0;
  // Rooms of every node (a cluster adapter that cannot ask reports this node's).
  virtual void all_rooms(std::function<void(std::vector<std::string>)> done) = 0;
  // data is [event, ...args], for the other nodes' server-side handlers (never this node's).
  virtual void server_side_emit(const boost::json::array& data) = 0;
  // Waits for one answer per other node, or the timeout.
  virtual void server_side_emit_with_ack(const boost::json::array& data, std::chrono::milliseconds timeout,
                                         ServerSideAckCollector done) = 0;
  // Nodes serving this namespace, this one included.
  virtual void server_count(std::function<void(std::size_t)> done) = 0;

  // Room life on this node (a cluster adapter may subscribe per room). Called on the shard
  // that created or emptied the room; a room may exist on several shards at once.
  // `socket_room`: the room is a socket's own id room.
  virtual void on_room_created(std::string_view /*room*/, bool /*socket_room*/) {}
  virtual void on_room_deleted(std::string_view /*room*/, bool /*socket_room*/) {}
};

using AdapterFactory = std::function<std::unique_ptr<Adapter>(std::string_view nsp, LocalSockets& local)>;

}  // namespace iogate::sio
