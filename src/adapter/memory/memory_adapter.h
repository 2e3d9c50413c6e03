#pragma once
// The default adapter: one process, nothing to forward. Every call goes to the local sockets.
#include <memory>

#include "sio/adapter.h"

namespace iogate::adapter {

class MemoryAdapter final : public sio::Adapter {
 public:
  explicit MemoryAdapter(sio::LocalSockets& local) : local_(local) {}

  void broadcast(const sio::Packet& packet, const sio::BroadcastOptions& options) override {
    local_.broadcast(packet, options);
  }
  void broadcast_with_ack(const sio::Packet& packet, const sio::BroadcastOptions& options,
                          std::shared_ptr<sio::AckSink> sink) override {
    sink->expect_servers(1);
    local_.broadcast_with_ack(packet, options, std::move(sink));
  }
  void add_sockets(const sio::BroadcastOptions& options, std::vector<std::string> rooms) override {
    local_.add_sockets(options, std::move(rooms));
  }
  void del_sockets(const sio::BroadcastOptions& options, std::vector<std::string> rooms) override {
    local_.del_sockets(options, std::move(rooms));
  }
  void disconnect_sockets(const sio::BroadcastOptions& options, bool close) override {
    local_.disconnect_sockets(options, close);
  }
  void fetch_sockets(const sio::BroadcastOptions& options, sio::FetchCallback done) override {
    local_.fetch_sockets(options, [done = std::move(done)](std::vector<sio::SocketInfo> sockets) {
      done(std::nullopt, std::move(sockets));
    });
  }
  void all_rooms(std::function<void(std::vector<std::string>)> done) override { local_.local_rooms(std::move(done)); }
  // One node: there is no other server to tell or to wait for.
  void server_side_emit(const boost::json::array&) override {}
  void server_side_emit_with_ack(const boost::json::array&, std::chrono::milliseconds,
                                 sio::ServerSideAckCollector done) override {
    done(std::nullopt, {});
  }
  void server_count(std::function<void(std::size_t)> done) override { done(1); }

  static sio::AdapterFactory factory() {
    return [](std::string_view, sio::LocalSockets& local) { return std::make_unique<MemoryAdapter>(local); };
  }

 private:
  sio::LocalSockets& local_;
};

}  // namespace iogate::adapter
