#pragma once
// A client's connection to one namespace.
//
// Shard-confined: call its methods only on the shard that runs its handlers (every handler
// iogate calls for it runs there). Owned by its Client; keep a shared_ptr to use it later —
// once disconnected it ignores sends. To reach a socket from elsewhere, broadcast to its id.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "eio/connection.h"
#include "sio/payload.h"
#include "sio/proto/packet.h"

namespace boost::asio {
class io_context;
}

namespace iogate::sio {

class BroadcastOperator;
class Client;
class Namespace;
class ShardNamespace;
struct SocketInfo;

class Socket : public std::enable_shared_from_this<Socket> {
 public:
  using EventHandler = std::function<void(Socket&, Event&)>;
  using DisconnectHandler = std::function<void(Socket&, std::string_view reason)>;
  using OutgoingHandler = std::function<void(Socket&, std::string_view event, const Payload&)>;
  // Calls next(nullopt) to go on, next("message") to drop the event (on_error handlers see it).
  using PacketMiddleware =
      std::function<void(Socket&, Event&, std::function<void(std::optional<std::string>)> next)>;
  using ErrorHandler = std::function<void(Socket&, std::string_view message)>;

  Socket(Client& client, Namespace& nsp, ShardNamespace& shard_nsp, std::string id, boost::json::value auth);
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  const std::string& id() const noexcept { return id_; }
  Namespace& nsp() noexcept { return nsp_; }
  const eio::Handshake& handshake() const noexcept;
  const boost::json::value& auth() const noexcept { return auth_; }
  // Application data, reported by fetch_sockets().
  boost::json::object& data() noexcept { return data_; }
  bool connected() const noexcept { return connected_; }
  std::size_t shard() const noexcept;
  // The event loop of this socket's shard: for timers and work that must run beside it.
  boost::asio::io_context& context() noexcept;

  void on(std::string event, EventHandler handler);
  void on_any(EventHandler handler) { listeners().any.push_back(std::move(handler)); }
  // Sees every event sent to this socket, broadcasts included.
  void on_any_outgoing(OutgoingHandler handler);
  void use(PacketMiddleware middleware) { listeners().middlewares.push_back(std::move(middleware)); }
  void on_disconnecting(DisconnectHandler handler) { listeners().disconnecting.push_back(std::move(handler)); }
  void on_disconnect(DisconnectHandler handler) { listeners().disconnect.push_back(std::move(handler)); }
  void on_error(ErrorHandler handler) { listeners().errors.push_back(std::move(handler)); }

  void emit(std::string_view event, Payload payload = {}, bool is_volatile = false);
  // Expects the client to acknowledge within `timeout`; the handler gets nullopt on timeout.
  void emit_with_ack(std::string_view event, Payload payload, std::chrono::milliseconds timeout,
                     AckHandler handler);

  void join(const std::string& room);
  void join(const std::vector<std::string>& rooms);
  void leave(const std::string& room);
  const std::vector<std::string>& rooms() const noexcept { return rooms_; }
  bool in_room(std::string_view room) const noexcept;

  // Broadcast to rooms, excluding this socket.
  BroadcastOperator to(std::string room);
  BroadcastOperator to(std::vector<std::string> rooms);
  // Broadcast to the whole namespace, excluding this socket.
  BroadcastOperator broadcast();

  // Leaves the namespace ("server namespace disconnect"); close=true also closes the connection.
  void disconnect(bool close = false);

  SocketInfo info() const;

 private:
  friend class Client;
  friend class ShardNamespace;
  friend class Namespace;

  struct AckTimer;
  struct PendingAck {
    std::uint64_t id;
    AckHandler handler;
    std::unique_ptr<AckTimer> timer;
  };

  void on_packet(Packet& packet);
  void dispatch(Event& event);
  void run_middlewares(std::size_t index, std::shared_ptr<Event> event);
  void on_ack(Packet& packet);
  void report_error(const std::string& message);
  void on_close(std::string_view reason);
  void send_packet(Packet& packet, bool is_volatile = false);
  void register_ack(std::uint64_t id, AckHandler handler);
  void forget_ack(std::uint64_t id);
  void notify_outgoing(std::string_view event, const Payload& payload);
  void notify_outgoing(const Packet& packet);

  Client* client_;  // valid while connected_ or while the client runs this socket's middlewares
  std::shared_ptr<const eio::Handshake> handshake_;
  boost::asio::io_context& context_;
  std::size_t shard_;
  Namespace& nsp_;
  ShardNamespace& shard_nsp_;
  std::string id_;
  boost::json::value auth_;
  boost::json::object data_;
  std::vector<std::string> rooms_;
  bool connected_ = false;
  bool closing_ = false;

  // This socket's own handlers, allocated with the first one: a socket served by namespace-wide
  // handlers (Namespace::on) carries none.
  struct Listeners {
    std::vector<std::pair<std::string, EventHandler>> events;
    std::vector<EventHandler> any;
    std::vector<OutgoingHandler> outgoing;
    std::vector<PacketMiddleware> middlewares;
    std::vector<DisconnectHandler> disconnecting;
    std::vector<DisconnectHandler> disconnect;
    std::vector<ErrorHandler> errors;
  };
  Listeners& listeners();
  const Listeners& heard() const noexcept;

  std::unique_ptr<Listeners> listeners_;
  std::vector<PendingAck> pending_acks_;
};

}  // namespace iogate::sio
