#pragma once
// HTTP/1.1 connections: read a request, hand it to the handler registered for its path, write
// the handler's response, repeat (keep-alive). A request whose session lives on another shard
// is routed there with its socket (see HttpConnection::route).
//
// Shard-confined. Owned by shared_ptr: the pending async operation and, while a response is
// pending (a long-poll GET), the handler that will answer it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/http.h"

namespace iogate::net {

class HttpConnection;
class ShardPool;
class WsConnection;

class RequestHandler {
 public:
  // The shard that must serve this request; called on the shard that read it.
  virtual std::size_t shard_for(const HttpRequest& request, std::size_t current_shard) = 0;
  // Called on the serving shard. The handler answers now or later, exactly once, with
  // respond(), reject_upgrade() or accept_websocket().
  virtual void on_request(const std::shared_ptr<HttpConnection>& connection, HttpRequest& request) = 0;

 protected:
  ~RequestHandler() = default;
};

struct HttpSettings {
  std::size_t max_body_size = 1'000'000;
  std::size_t max_header_size = 16 * 1024;
  std::chrono::milliseconds idle_timeout{60'000};
};

// Maps path prefixes to handlers (prefix match, longest first); the first match wins.
class Router {
 public:
  void add(std::string prefix, RequestHandler* handler);
  RequestHandler* find(std::string_view path) const noexcept;

 private:
  std::vector<std::pair<std::string, RequestHandler*>> routes_;
};

struct HttpContext {
  ShardPool& pool;
  Router router;
  HttpSettings settings;
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(boost::asio::ip::tcp::socket socket, std::size_t shard, HttpContext& context);
  ~HttpConnection();

  // Starts reading requests; `buffered` holds bytes already read from the socket elsewhere.
  void start(std::string buffered = {});
  // Serves a request that another shard read (see route()), then goes on reading.
  void resume(HttpRequest request, std::string buffered);

  std::size_t shard() const noexcept { return shard_; }

  void respond(HttpResponse response);
  // For refused WebSocket upgrades: raw 400 with the message as body, then close.
  void reject_upgrade(std::string_view message);
  // Answers 101 and turns the socket into a WebSocket connection (returned, not yet reading);
  // nullptr, with nothing sent, when the request lacks a key or is not version 13 (or 8, as ws).
  std::shared_ptr<WsConnection> accept_websocket(const HttpRequest& request,
                                                 std::size_t max_message_size);
  // Called once if the peer goes away while a response is pending.
  void on_abort(std::function<void()> callback) { abort_callback_ = std::move(callback); }

 private:
  void read_header();
  void on_header(std::size_t bytes);
  void read_body();
  void dispatch();
  void route(std::size_t target_shard);
  void watch_for_abort();
  void finish_write(bool close_after);
  void fail_fast(unsigned status, std::string body);
  void arm_idle_timer();
  void shut();

  struct ParserState;
  boost::asio::ip::tcp::socket socket_;
  std::size_t shard_;
  HttpContext& context_;
  std::unique_ptr<ParserState> parser_;
  HttpRequest request_;
  std::string write_buffer_;
  std::function<void()> abort_callback_;
  boost::asio::steady_timer idle_timer_;
  std::uint64_t abort_watch_generation_ = 0;  // a stale abort watch recognises itself by it
  bool awaiting_response_ = false;
  bool closed_ = false;
};

}  // namespace iogate::net
