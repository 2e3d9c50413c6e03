#pragma once
// One Engine.IO connection seen by Socket.IO: decodes its packets, connects it to namespaces
// and routes each packet to the socket of its namespace.
//
// Shard-confined. Owned by the Engine.IO session through ClientHandle; middleware
// continuations hold weak references.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include "eio/connection.h"
#include "sio/namespace.h"
#include "sio/proto/packet.h"

namespace iogate::sio {

class Server;

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(Server& server, eio::Connection& connection);

  void start();
  void on_message(std::string_view data, bool binary);
  void on_close(std::string_view reason);

  eio::Connection& connection() noexcept { return connection_; }
  ProtocolVersion version() const noexcept { return version_; }
  bool closed() const noexcept { return closed_; }

  void write(const EncodedPackets& packets, bool is_volatile = false);
  void write(const Packet& packet, bool is_volatile = false);
  // Closes the whole connection ("forced close").
  void close();
  // Disconnects every socket ("server namespace disconnect"), then closes the connection: what
  // socket.disconnect(true) does in the reference.
  void disconnect();
  // A socket left its namespace (either side asked); the client forgets it.
  void remove(Socket& socket);

 private:
  void on_packet(Packet packet);
  void connect(const std::string& nsp_name, boost::json::value auth);
  void finish_connect(const std::shared_ptr<Socket>& socket, std::optional<ConnectError> error);
  void run_middleware(const std::shared_ptr<Socket>& socket, std::size_t index);
  void refuse(const std::string& nsp_name, const ConnectError& error);
  Socket* find(std::string_view nsp_name) const noexcept;
  bool connecting(std::string_view nsp_name) const noexcept;

  Server& server_;
  eio::Connection& connection_;
  ProtocolVersion version_;
  Decoder decoder_;
  std::vector<std::pair<std::string, std::shared_ptr<Socket>>> sockets_;
  std::vector<std::string> connecting_;
  // Until the first namespace is joined (Node's connectTimeout), then freed.
  std::unique_ptr<boost::asio::steady_timer> connect_timer_;
  bool closed_ = false;
};

// The Engine.IO session's handle on its client.
class ClientHandle final : public eio::ConnectionHandler {
 public:
  explicit ClientHandle(std::shared_ptr<Client> client) : client_(std::move(client)) {}
  void on_message(std::string_view data, bool binary) override { client_->on_message(data, binary); }
  void on_close(std::string_view reason) override { client_->on_close(reason); }

 private:
  std::shared_ptr<Client> client_;
};

}  // namespace iogate::sio
