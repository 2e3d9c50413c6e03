#pragma once
// The Engine.IO server: handshakes, HTTP long-polling, WebSocket, the polling→WebSocket upgrade
// and heartbeats, for protocol revisions 4 and 3, as engine.io 6.6 behaves.
//
// Example:
//   eio::Server server(pool, {.path = "/engine.io/"}, [](eio::Connection& c) {
//     return std::make_unique<Echo>(c);   // receives on_message / on_close
//   });
//   context.router.add(server.options().path, &server);
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eio/connection.h"
#include "net/http_connection.h"

namespace iogate::net {
class ShardPool;
}

namespace iogate::eio {

struct CorsOptions {
  bool enabled = false;
  std::vector<std::string> origins;  // empty: any origin ("*")
  bool credentials = false;          // reflect the request's origin and allow credentials
};

struct ServerOptions {
  std::string path = "/engine.io/";
  std::chrono::milliseconds ping_interval{25'000};
  std::chrono::milliseconds ping_timeout{20'000};
  std::chrono::milliseconds upgrade_timeout{10'000};
  std::size_t max_http_buffer_size = 1'000'000;
  bool allow_polling = true;
  bool allow_websocket = true;
  bool allow_upgrades = true;
  bool allow_eio3 = false;
  std::optional<std::string> cookie;  // cookie name ("io") to set on polling handshakes
  CorsOptions cors;
  // Returns a refusal message to refuse a handshake (403, code 4).
  std::function<std::optional<std::string>(const net::HttpRequest&)> allow_request;
};

class SessionTable;

class Server final : public net::RequestHandler {
 public:
  using ConnectionFactory = std::function<std::unique_ptr<ConnectionHandler>(Connection&)>;

  Server(net::ShardPool& pool, ServerOptions options, ConnectionFactory on_connection);
  ~Server();

  const ServerOptions& options() const noexcept { return options_; }
  net::ShardPool& pool() noexcept { return pool_; }
  const ConnectionFactory& connection_factory() const noexcept { return on_connection_; }
  SessionTable& sessions(std::size_t shard) noexcept { return *tables_[shard]; }

  // Closes every session ("server shutting down"); call from any thread. `done` runs once every
  // shard has closed its sessions (their last bytes may still be in flight).
  void close_all(std::function<void()> done = {});

  std::size_t shard_for(const net::HttpRequest& request, std::size_t current_shard) override;
  void on_request(const std::shared_ptr<net::HttpConnection>& connection, net::HttpRequest& request) override;

 private:
  void handshake(const std::shared_ptr<net::HttpConnection>& connection, net::HttpRequest& request,
                 Revision revision);

  net::ShardPool& pool_;
  ServerOptions options_;
  ConnectionFactory on_connection_;
  std::vector<std::unique_ptr<SessionTable>> tables_;
};

// Headers for CORS, added to every answer when enabled; empty otherwise.
void add_cors_headers(const CorsOptions& cors, const net::HttpRequest& request, net::NameValueList& headers);

}  // namespace iogate::eio
