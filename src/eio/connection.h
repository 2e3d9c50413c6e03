#pragma once
// What the Socket.IO layer sees of an Engine.IO session: send packets, close, learn about the
// handshake. Implemented by eio::Session; an in-memory implementation serves unit tests and
// benchmarks of the layers above.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "eio/proto/packet.h"
#include "net/http.h"

namespace boost::asio {
class io_context;
}

namespace iogate::eio {

// The request that opened the session, kept for the application (socket.handshake).
struct Handshake {
  std::string url;  // request target
  net::PackedNameValues query;
  net::PackedNameValues headers;  // names lower-cased
  std::string address;
  bool secure = false;
  bool xdomain = false;  // an Origin header was present
  std::chrono::system_clock::time_point time;
};

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  virtual void on_message(std::string_view data, bool binary) = 0;
  // The session is over; called once, then the handler is destroyed.
  virtual void on_close(std::string_view reason) = 0;
};

class Connection {
 public:
  virtual const std::string& id() const noexcept = 0;
  // Shared, so that what outlives the session (a socket still in its middlewares) may keep it.
  virtual const std::shared_ptr<const Handshake>& handshake() const noexcept = 0;
  virtual Revision revision() const noexcept = 0;
  virtual std::size_t shard() const noexcept = 0;
  virtual boost::asio::io_context& context() noexcept = 0;
  virtual void send(const SharedPacket& packet) = 0;
  // False while earlier packets are still being written (volatile packets are dropped then).
  virtual bool writable() const noexcept = 0;
  // Flushes what is queued, then closes ("forced close" for the application).
  virtual void close() = 0;

 protected:
  ~Connection() = default;
};

}  // namespace iogate::eio
