#include "net/listener.h"

#include <boost/asio/ip/v6_only.hpp>

#include "net/shard_pool.h"

namespace iogate::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Listener::Listener(HttpContext& context) : context_(context) {}

std::uint16_t Listener::listen(const std::string& address, std::uint16_t port) {
  tcp::endpoint endpoint(asio::ip::make_address(address), port);
  auto acceptor = std::make_unique<tcp::acceptor>(context_.pool.context(0));
  acceptor->open(endpoint.protocol());
  acceptor->set_option(asio::socket_base::reuse_address(true));
  if (endpoint.address().is_v6()) {
    acceptor->set_option(asio::ip::v6_only(true));
  }
  acceptor->bind(endpoint);
  acceptor->listen(asio::socket_base::max_listen_connections);
  std::uint16_t bound = acceptor->local_endpoint().port();
  acceptors_.push_back(std::move(acceptor));
  return bound;
}

void Listener::start() {
  for (std::size_t i = 0; i < acceptors_.size(); ++i) {
    asio::post(context_.pool.context(0), [this, i] { accept(i); });
  }
}

void Listener::accept(std::size_t index) {
  std::size_t shard = next_shard_;
  next_shard_ = (next_shard_ + 1) % context_.pool.size();
  auto& acceptor = *acceptors_[index];
  acceptor.async_accept(context_.pool.context(shard), [this, index, shard](boost::system::error_code ec,
                                                                          tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptors_[index]->is_open()) {
      return;
    }
    if (!ec) {
      context_.pool.post(shard, [this, shard, s = std::make_shared<tcp::socket>(std::move(socket))]() mutable {
        std::make_shared<HttpConnection>(std::move(*s), shard, context_)->start();
      });
    }
    accept(index);
  });
}

void Listener::close() {
  asio::post(context_.pool.context(0), [this] {
    for (auto& acceptor : acceptors_) {
      boost::system::error_code ec;
      acceptor->close(ec);
    }
  });
}

}  // namespace iogate::net
