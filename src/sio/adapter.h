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

#include <boost/json/object.hpp>

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
  virtual void fetch_sockets(const BroadcastOptions& options,
                             std::function<void(std::vector<SocketInfo>)> done) = 0;

  // Room life on this node (a cluster adapter may subscribe per room). Called on the shard
  // that created or emptied the room; a room may exist on several shards at once.
  virtual void on_room_created(std::string_view /*room*/) {}
  virtual void on_room_deleted(std::string_view /*room*/) {}
};

using AdapterFactory = std::function<std::unique_ptr<Adapter>(std::string_view nsp, LocalSockets& local)>;

}  // namespace iogate::sio
