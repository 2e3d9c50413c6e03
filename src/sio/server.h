#pragma once
// The Socket.IO server: namespaces (static, and dynamic by regex or predicate) on top of an
// Engine.IO server. Configure namespaces and handlers before the listener starts.
//
// Example:
//   net::ShardPool pool;
//   sio::Server io(pool, {.adapter = adapter::MemoryAdapter::factory()});
//   io.of("/").on_connection([](sio::Socket& socket) {
//     socket.on("hello", [](sio::Socket& s, sio::Event& e) { s.emit("hello-back", e.payload); });
//   });
//   net::HttpContext http{pool};
//   http.router.add(io.engine().options().path, &io.engine());
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "eio/server.h"
#include "sio/adapter.h"
#include "sio/namespace.h"

namespace iogate::net {
class Listener;
class ShardPool;
}

namespace iogate::sio {

inline eio::ServerOptions socket_io_engine_defaults() {
  eio::ServerOptions options;
  options.path = "/socket.io/";
  return options;
}

struct ServerOptions {
  eio::ServerOptions engine = socket_io_engine_defaults();
  std::chrono::milliseconds connect_timeout{45'000};
  std::size_t max_attachments = kDefaultMaxAttachments;
  AdapterFactory adapter;  // required; adapter::MemoryAdapter::factory() for a single node
};

class Server {
 public:
  using NamespacePredicate = std::function<bool(std::string_view name, const boost::json::value& auth)>;

  Server(net::ShardPool& pool, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Namespace& of(const std::string& name);
  // A parent for every namespace whose name matches: matching namespaces are created on first
  // connection and take the parent's middlewares and connection handlers.
  Namespace& of(std::regex pattern);
  Namespace& of(NamespacePredicate predicate);

  eio::Server& engine() noexcept { return *engine_; }
  net::ShardPool& pool() noexcept { return pool_; }
  const ServerOptions& options() const noexcept { return options_; }

  // Graceful close: every socket is disconnected ("server shutting down") and every session
  // closed (WebSocket close frame, "1" to a pending poll). From any thread; `done` runs once all
  // shards are through.
  void close(std::function<void()> done = {});

  // For a server's main: runs the pool on this thread until SIGINT or SIGTERM, then stops
  // accepting on `listener`, calls `on_signal` (other closes), closes this server gracefully
  // and returns once the loops are stopped, 200 ms later.
  void run_until_signal(net::Listener& listener, std::function<void()> on_signal = {});

  // The namespace a CONNECT names, creating a dynamic one if a parent accepts it.
  Namespace* find_or_create(const std::string& name, const boost::json::value& auth);

 private:
  struct DynamicParent {
    NamespacePredicate predicate;
    std::unique_ptr<Namespace> parent;
  };

  net::ShardPool& pool_;
  ServerOptions options_;
  std::unique_ptr<eio::Server> engine_;
  mutable std::shared_mutex namespaces_mutex_;
  std::map<std::string, std::unique_ptr<Namespace>, std::less<>> namespaces_;
  std::vector<DynamicParent> dynamic_parents_;
};

}  // namespace iogate::sio
