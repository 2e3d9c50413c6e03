#pragma once
// Accepts TCP connections on shard 0 and spreads them over the shards round-robin; each
// accepted socket is created directly on its shard's loop.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "net/http_connection.h"

namespace iogate::net {

class Listener {
 public:
  explicit Listener(HttpContext& context);

  // Binds and listens (port 0 picks a free port); returns the bound port. Throws on failure.
  std::uint16_t listen(const std::string& address, std::uint16_t port);
  // Starts accepting on every bound address.
  void start();
  // Stops accepting (posts to shard 0); existing connections are not touched.
  void close();

 private:
  void accept(std::size_t index);

  HttpContext& context_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::size_t next_shard_ = 0;
};

}  // namespace iogate::net
