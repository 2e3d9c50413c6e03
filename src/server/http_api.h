#pragma once
// The HTTP API for the business back end (JSON in and out, described by docs/openapi.yaml):
// emits, notifications, data updates, business events, presence, force-disconnect, batches.
// Presence answers come from the presence store, possibly later and on another thread; the
// response is written back on the connection's shard.
#include <memory>
#include <string>

#include "app/services/services.h"
#include "net/http_connection.h"

namespace iogate::server {

class HttpApi final : public net::RequestHandler {
 public:
  // `api_key` empty: no key required (the API then listens on loopback only).
  HttpApi(app::Services& services, std::string api_key);

  std::size_t shard_for(const net::HttpRequest&, std::size_t current_shard) override { return current_shard; }
  void on_request(const std::shared_ptr<net::HttpConnection>& connection, net::HttpRequest& request) override;

 private:
  void respond_on_shard(const std::shared_ptr<net::HttpConnection>& connection, net::HttpResponse response);

  app::Services& services_;
  std::string api_key_;
};

}  // namespace iogate::server
