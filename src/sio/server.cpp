#include "sio/server.h"

#include <csignal>
#include <mutex>

#include <boost/asio/signal_set.hpp>

#include "net/listener.h"
#include "net/shard_pool.h"
#include "sio/client.h"

namespace iogate::sio {

namespace {

// The adapter of a dynamic namespace's parent: the parent only lends its handlers to the
// namespaces it creates and never has sockets, so it has nothing to deliver and no place in a
// cluster (a cluster adapter would subscribe for it).
class ParentAdapter final : public Adapter {
 public:
  void broadcast(const Packet&, const BroadcastOptions&) override {}
  void broadcast_with_ack(const Packet&, const BroadcastOptions&, std::shared_ptr<AckSink> sink) override {
    sink->expect_servers(1);
    sink->client_count(0);
  }
  void add_sockets(const BroadcastOptions&, std::vector<std::string>) override {}
  void del_sockets(const BroadcastOptions&, std::vector<std::string>) override {}
  void disconnect_sockets(const BroadcastOptions&, bool) override {}
  void fetch_sockets(const BroadcastOptions&, FetchCallback done) override { done(std::nullopt, {}); }
  void all_rooms(std::function<void(std::vector<std::string>)> done) override { done({}); }
  void server_side_emit(const boost::json::array&) override {}
  void server_side_emit_with_ack(const boost::json::array&, std::chrono::milliseconds,
                                 ServerSideAckCollector done) override {
    done(std::nullopt, {});
  }
  void server_count(std::function<void(std::size_t)> done) override { done(1); }
};

}  // namespace

Server::Server(net::ShardPool& pool, ServerOptions options) : pool_(pool), options_(std::move(options)) {
  if (!options_.adapter) {
    throw std::invalid_argument("sio::ServerOptions::adapter is required");
  }
  engine_ = std::make_unique<eio::Server>(pool_, options_.engine, [this](eio::Connection& connection) {
    auto client = std::make_shared<Client>(*this, connection);
    client->start();
    return std::make_unique<ClientHandle>(std::move(client));
  });
  of("/");
}

Server::~Server() = default;

Namespace& Server::of(const std::string& name) {
  std::string normalized = name.empty() || name.front() != '/' ? "/" + name : name;
  {
    std::shared_lock lock(namespaces_mutex_);
    if (auto it = namespaces_.find(normalized); it != namespaces_.end()) {
      return *it->second;
    }
  }
  std::unique_lock lock(namespaces_mutex_);
  auto it = namespaces_.find(normalized);
  if (it == namespaces_.end()) {
    it = namespaces_.emplace(normalized, std::make_unique<Namespace>(*this, normalized, options_.adapter)).first;
  }
  return *it->second;
}

Namespace& Server::of(std::regex pattern) {
  return of([pattern = std::move(pattern)](std::string_view name, const boost::json::value&) {
    return std::regex_match(name.begin(), name.end(), pattern);
  });
}

Namespace& Server::of(NamespacePredicate predicate) {
  std::unique_lock lock(namespaces_mutex_);
  AdapterFactory parent_adapter = [](std::string_view, LocalSockets&) { return std::make_unique<ParentAdapter>(); };
  auto parent = std::make_unique<Namespace>(*this, "/_dynamic_" + std::to_string(dynamic_parents_.size()),
                                            parent_adapter);
  auto& ref = *parent;
  dynamic_parents_.push_back(DynamicParent{std::move(predicate), std::move(parent)});
  return ref;
}

Namespace* Server::find_or_create(const std::string& name, const boost::json::value& auth) {
  {
    std::shared_lock lock(namespaces_mutex_);
    if (auto it = namespaces_.find(name); it != namespaces_.end()) {
      return it->second.get();
    }
    if (dynamic_parents_.empty()) {
      return nullptr;
    }
  }
  std::unique_lock lock(namespaces_mutex_);
  if (auto it = namespaces_.find(name); it != namespaces_.end()) {
    return it->second.get();
  }
  for (auto& dynamic : dynamic_parents_) {
    if (dynamic.predicate(name, auth)) {
      auto child = std::make_unique<Namespace>(*this, name, options_.adapter);
      child->middlewares_ = dynamic.parent->middlewares_;
      child->connection_handlers_ = dynamic.parent->connection_handlers_;
      child->event_handlers_ = dynamic.parent->event_handlers_;
      child->server_side_handlers_ = dynamic.parent->server_side_handlers_;
      auto* result = child.get();
      namespaces_.emplace(name, std::move(child));
      return result;
    }
  }
  return nullptr;
}

void Server::close(std::function<void()> done) { engine_->close_all(std::move(done)); }

void Server::run_until_signal(net::Listener& listener, std::function<void()> on_signal) {
  boost::asio::signal_set signals(pool_.context(0), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    listener.close();
    if (on_signal) {
      on_signal();
    }
    close([this] { pool_.stop_after(std::chrono::milliseconds(200)); });
  });
  pool_.run();
}

}  // namespace iogate::sio
