#pragma once
// The load generator's client side of Engine.IO 4 / Socket.IO 5 on one epoll loop: WebSocket
// connections (RFC 6455 client framing, masked) to the namespace "/", and the HTTP long-polling
// handshake. One thread drives every connection; nothing here blocks.
#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace loadgen {

using Clock = std::chrono::steady_clock;

// Microseconds since the process started: the send timestamps carried in payloads.
std::uint64_t now_us();

class Pollable {
 public:
  virtual void on_ready(std::uint32_t epoll_events) = 0;

 protected:
  ~Pollable() = default;
};

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  void watch(int fd, Pollable& target, bool writable);
  void rewatch(int fd, Pollable& target, bool writable);
  void unwatch(int fd);  // closing a socket unwatches it too
  // Waits at most `max_wait` for readiness and dispatches every ready descriptor once.
  void poll(std::chrono::milliseconds max_wait);

 private:
  int epoll_fd_;
};

struct ServerAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};

class Connection;

// What a scenario hears from its connections. `args` is the JSON array text of an event or ack.
class ConnectionEvents {
 public:
  virtual void on_connected(Connection& connection) = 0;  // namespace "/" joined
  virtual void on_event(Connection& connection, std::string_view args) = 0;
  virtual void on_ack(Connection& connection, std::uint64_t id, std::string_view args) = 0;
  // Closed by the server, or a protocol or socket error; the connection is dead afterwards.
  virtual void on_failed(Connection& connection, std::string_view reason) = 0;

 protected:
  ~ConnectionEvents() = default;
};

// One Socket.IO client on a WebSocket. Started over WebSocket directly, or upgraded from a
// polling session (probe, then upgrade) when given that session's id.
class Connection final : public Pollable {
 public:
  Connection(Loop& loop, ConnectionEvents& events, std::uint32_t index);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start(const ServerAddress& server);
  void start_upgrade(const ServerAddress& server, std::string polling_sid);
  // Abortive close (RST): no TIME_WAIT left behind, so thousands of runs reuse the ports.
  void close();

  void set_events(ConnectionEvents& events) { events_ = &events; }
  std::uint32_t index() const noexcept { return index_; }
  bool connected() const noexcept { return state_ == State::connected; }
  bool closed() const noexcept { return state_ == State::closed; }

  // Sends a Socket.IO event to "/": `args` is the JSON array text. Returns the ack id it asked
  // for, or 0 when `want_ack` is false.
  std::uint64_t emit(std::string_view args, bool want_ack);

  void on_ready(std::uint32_t epoll_events) override;

 private:
  enum class State {
    idle,
    tcp_connecting,
    upgrading,             // upgrade request sent, waiting for 101
    probing,               // upgrading a polling session: "2probe" sent, waiting for "3probe"
    engine_opening,        // waiting for the Engine.IO open packet
    namespace_connecting,  // "40" sent, waiting for the CONNECT answer
    connected,
    closed,
  };

  void open_socket(const ServerAddress& server, std::string request_target);
  void on_tcp_connected();
  void read_available();
  std::size_t consume(char* data, std::size_t size);  // returns bytes of whole frames consumed
  std::size_t consume_upgrade_response(const char* data, std::size_t size);
  void on_message(std::string_view text);
  void on_socket_io_packet(std::string_view packet);
  void send_frame(std::uint8_t opcode, std::string_view payload);
  void send_text(std::string_view text) { send_frame(0x1, text); }
  void flush();
  void fail(std::string_view reason);

  Loop& loop_;
  ConnectionEvents* events_;
  std::uint32_t index_;
  int fd_ = -1;
  State state_ = State::idle;
  bool watching_write_ = false;
  std::string request_;        // the HTTP upgrade request, until the socket is connected
  std::string expected_accept_;
  std::string polling_sid_;    // set when upgrading a polling session
  std::string in_;             // bytes of an incomplete frame
  std::string out_;            // bytes not yet accepted by the socket
  std::size_t out_offset_ = 0;
  std::uint64_t next_ack_id_ = 1;
};

// The HTTP long-polling path of one session on a keep-alive connection: handshake GET, then
// POST "40" and GET until the namespace's CONNECT answer. `done` runs once, with an empty
// error on success; sid() then names the session for an upgrade.
class PollingHandshake final : public Pollable {
 public:
  using Done = std::function<void(std::string_view error)>;

  PollingHandshake(Loop& loop, Done done) : loop_(loop), done_(std::move(done)) {}
  ~PollingHandshake();
  PollingHandshake(const PollingHandshake&) = delete;
  PollingHandshake& operator=(const PollingHandshake&) = delete;

  void start(const ServerAddress& server);
  void close();
  const std::string& sid() const noexcept { return sid_; }

  void on_ready(std::uint32_t epoll_events) override;

 private:
  enum class Step { connecting, handshake, post_connect, poll_connect, done };

  void send_request(std::string_view method, std::string_view body);
  void on_response(std::string_view body);
  void finish(std::string_view error);

  Loop& loop_;
  Done done_;
  ServerAddress server_;
  int fd_ = -1;
  Step step_ = Step::connecting;
  std::string sid_;
  std::string in_;
  std::string out_;
  std::size_t out_offset_ = 0;
};

}  // namespace loadgen
