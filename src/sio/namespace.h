#pragma once
// A namespace: its middlewares and connection handlers (configure them before serving), its
// adapter, and its sockets, held per shard by ShardNamespace so that each shard's room index
// is touched by one thread only.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "eio/proto/packet.h"
#include "sio/adapter.h"
#include "sio/broadcast_operator.h"
#include "sio/payload.h"
#include "sio/socket.h"

namespace iogate::sio {

class Server;

// A packet encoded once: the Engine.IO message carrying the Socket.IO text, then one binary
// message per attachment. Shared, immutable, by every recipient on every shard.
using EncodedPackets = std::shared_ptr<const std::vector<eio::SharedPacket>>;
EncodedPackets encode_for_sending(const Packet& packet);

// An EVENT packet for `nsp`: data is [event, ...payload.args], attachments move along.
Packet make_event_packet(const std::string& nsp, std::string_view event, Payload&& payload);

// Times a Socket.IO packet was encoded for sending, process-wide (tests and benchmarks).
std::uint64_t packets_encoded() noexcept;

class ShardNamespace {
 public:
  ShardNamespace(Namespace& nsp, std::size_t shard) : nsp_(nsp), shard_(shard) {}

  void add(Socket& socket);
  void remove(Socket& socket);
  void join(Socket& socket, const std::string& room);
  void leave(Socket& socket, const std::string& room);

  // Calls fn for each local socket the options select, each once.
  void for_each(const BroadcastOptions& options, const std::function<void(Socket&)>& fn);
  // `packet` is set only when some socket watches its outgoing events.
  void deliver(const EncodedPackets& packets, const BroadcastOptions& options, const Packet* packet);

  std::size_t socket_count() const noexcept { return sockets_.size(); }
  std::size_t shard() const noexcept { return shard_; }
  Socket* find(const std::string& id) const;
  template <typename Fn>
  void for_each_room(Fn&& fn) const {
    for (const auto& [room, members] : rooms_) fn(room);
    for (const auto& [id, socket] : sockets_) {
      if (in_own_room(*socket)) fn(socket->id());
    }
  }

 private:
  static bool in_own_room(const Socket& socket) noexcept;
  // The socket whose own id room is `room`, if it is here and still in it.
  Socket* own_room_member(const std::string& room) const;

  Namespace& nsp_;
  std::size_t shard_;
  // Keyed by a view of each socket's own id.
  std::unordered_map<std::string_view, Socket*> sockets_;
  // Rooms joined by name. A socket's own id room is not indexed: sockets_ answers for it, so a
  // connection costs no room entry of its own.
  std::unordered_map<std::string, std::unordered_set<Socket*>> rooms_;
};

class Namespace final : private LocalSockets {
 public:
  using ConnectionHandler = std::function<void(Socket&)>;
  // Calls next(nullopt) to accept, next(ConnectError) to refuse. May be called later, but on
  // the socket's shard.
  using Middleware = std::function<void(Socket&, std::function<void(std::optional<ConnectError>)> next)>;

  Namespace(Server& server, std::string name, const AdapterFactory& adapter_factory);
  ~Namespace();

  const std::string& name() const noexcept { return name_; }
  Server& server() noexcept { return server_; }

  void use(Middleware middleware) { middlewares_.push_back(std::move(middleware)); }
  void on_connection(ConnectionHandler handler) { connection_handlers_.push_back(std::move(handler)); }
  // An event handler every socket of the namespace runs, after its own handlers for the event.
  // Held once by the namespace rather than once per socket: register before serving.
  void on(std::string event, Socket::EventHandler handler) {
    event_handlers_.emplace_back(std::move(event), std::move(handler));
  }

  BroadcastOperator to(std::string room) { return selection().to(std::move(room)); }
  BroadcastOperator in(std::string room) { return selection().to(std::move(room)); }
  BroadcastOperator except(std::string room) { return selection().except(std::move(room)); }
  BroadcastOperator local() { return selection().local(); }
  BroadcastOperator volatile_() { return selection().volatile_(); }
  BroadcastOperator timeout(std::chrono::milliseconds value) { return selection().timeout(value); }
  BroadcastOperator selection() { return BroadcastOperator(*this, {}); }
  void emit(std::string_view event, Payload payload = {}) { selection().emit(event, std::move(payload)); }

  // Events between the nodes of a cluster (serverSideEmit in Node): handlers get the events
  // other nodes send, never this node's own. Register before serving; they run on any shard.
  using ServerSideHandler = std::function<void(boost::json::array args, ServerSideReply reply)>;
  void on_server_side(std::string event, ServerSideHandler handler);
  void server_side_emit(std::string_view event, boost::json::array args);
  // One answer per other node; on timeout, error is set and replies holds what came.
  void server_side_emit_with_ack(std::string_view event, boost::json::array args, std::chrono::milliseconds timeout,
                                 ServerSideAckCollector done);
  // Rooms of every node (socket-id rooms included), and the number of nodes. The callbacks run
  // on the caller's shard.
  void all_rooms(std::function<void(std::vector<std::string>)> done);
  void server_count(std::function<void(std::size_t)> done);

  // Sockets connected on this node (all shards).
  std::size_t local_socket_count() const noexcept { return socket_count_.load(std::memory_order_relaxed); }
  ShardNamespace& shard(std::size_t index) { return *shards_[index]; }
  Adapter& adapter() noexcept { return *adapter_; }
  std::uint64_t next_ack_id() noexcept { return ack_ids_.fetch_add(1, std::memory_order_relaxed); }

 private:
  friend class Client;
  friend class Server;
  friend class Socket;
  friend class ShardNamespace;
  friend class BroadcastOperator;

  // LocalSockets
  void broadcast(const Packet& packet, const BroadcastOptions& options) override;
  void broadcast_with_ack(const Packet& packet, const BroadcastOptions& options,
                          std::shared_ptr<AckSink> sink) override;
  void add_sockets(const BroadcastOptions& options, std::vector<std::string> rooms) override;
  void del_sockets(const BroadcastOptions& options, std::vector<std::string> rooms) override;
  void disconnect_sockets(const BroadcastOptions& options, bool close) override;
  void fetch_sockets(const BroadcastOptions& options, std::function<void(std::vector<SocketInfo>)> done) override;
  void local_rooms(std::function<void(std::vector<std::string>)> done) override;
  void server_side_event(boost::json::array data, ServerSideReply reply) override;

  // Runs fn(shard) on every shard: now for the caller's own shard, posted for the others.
  void on_every_shard(const std::function<void(ShardNamespace&)>& fn);

  Server& server_;
  std::string name_;
  std::vector<Middleware> middlewares_;
  std::vector<ConnectionHandler> connection_handlers_;
  std::vector<std::pair<std::string, Socket::EventHandler>> event_handlers_;
  std::unordered_map<std::string, std::vector<ServerSideHandler>> server_side_handlers_;
  std::vector<std::unique_ptr<ShardNamespace>> shards_;
  std::unique_ptr<Adapter> adapter_;
  std::atomic<std::uint64_t> ack_ids_{0};
  std::atomic<std::size_t> socket_count_{0};
  std::atomic<std::size_t> outgoing_watchers_{0};  // sockets with on_any_outgoing handlers
};

}  // namespace iogate::sio
