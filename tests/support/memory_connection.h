#pragma once
// An Engine.IO connection without a network, for tests of the Socket.IO layer: records every
// packet it is sent (the shared_ptrs themselves, so tests can check that a broadcast shares one
// encoding), feeds messages to the handler the server's connection factory made for it, and
// closes the way a session does: the handler hears on_close in a later loop turn.
// Destroying it drops the handler without callbacks, so close() and poll first when the server
// is used afterwards.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "eio/connection.h"
#include "eio/server.h"
#include "net/shard_pool.h"

namespace iogate::test_support {

class MemoryConnection final : public eio::Connection {
 public:
  MemoryConnection(net::ShardPool& pool, std::size_t shard = 0, eio::Revision revision = eio::Revision::v4,
                   eio::Handshake handshake = default_handshake())
      : context_(pool.context(shard)),
        shard_(shard),
        revision_(revision),
        id_(next_id()),
        handshake_(std::make_shared<const eio::Handshake>(std::move(handshake))) {}

  MemoryConnection(const MemoryConnection&) = delete;
  MemoryConnection& operator=(const MemoryConnection&) = delete;

  static eio::Handshake default_handshake() {
    eio::Handshake handshake;
    handshake.url = "/socket.io/?EIO=4&transport=websocket";
    handshake.query = {{"EIO", "4"}, {"transport", "websocket"}};
    handshake.headers = {{"host", "localhost"}, {"user-agent", "memory-connection"}};
    handshake.address = "127.0.0.1";
    handshake.time = std::chrono::system_clock::now();
    return handshake;
  }

  // What a session does once its handshake is answered: the server's factory makes the handler.
  void open(const eio::Server::ConnectionFactory& factory) { handler_ = factory(*this); }

  // A message from the client.
  void receive(std::string_view text) {
    if (handler_) {
      handler_->on_message(text, false);
    }
  }
  void receive_binary(std::string_view bytes) {
    if (handler_) {
      handler_->on_message(bytes, true);
    }
  }

  // The transport went away under the session (client gone, ping timeout...): at once.
  void drop(std::string_view reason = "transport close") { finish(reason); }

  // eio::Connection
  const std::string& id() const noexcept override { return id_; }
  const std::shared_ptr<const eio::Handshake>& handshake() const noexcept override { return handshake_; }
  eio::Revision revision() const noexcept override { return revision_; }
  std::size_t shard() const noexcept override { return shard_; }
  boost::asio::io_context& context() noexcept override { return context_; }
  bool writable() const noexcept override { return writable_; }

  void send(const eio::SharedPacket& packet) override {
    if (close_calls_ > 0 || closed_) {
      return;
    }
    sent_.push_back(packet);
  }

  void close() override {
    ++close_calls_;
    if (close_calls_ > 1 || closed_) {
      return;
    }
    boost::asio::post(context_, [this, alive = std::weak_ptr<bool>(alive_)] {
      if (!alive.expired()) {
        finish("forced close");
      }
    });
  }

  void set_writable(bool writable) noexcept { writable_ = writable; }

  const std::vector<eio::SharedPacket>& sent() const noexcept { return sent_; }
  void clear_sent() { sent_.clear(); }
  // Each sent packet as Engine.IO text ("40{...}", "42[...]") or, for binary, its raw bytes.
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    out.reserve(sent_.size());
    for (const auto& packet : sent_) {
      out.emplace_back(packet->packet_bytes());
    }
    return out;
  }
  std::string last_text() const { return sent_.empty() ? std::string() : std::string(sent_.back()->packet_bytes()); }

  int close_calls() const noexcept { return close_calls_; }
  // The handler heard on_close (and is gone).
  bool closed() const noexcept { return closed_; }
  const std::string& close_reason() const noexcept { return close_reason_; }

 private:
  static std::string next_id() {
    static std::size_t counter = 0;
    std::string id = "memory-" + std::to_string(++counter);
    return id;
  }

  void finish(std::string_view reason) {
    if (closed_) {
      return;
    }
    closed_ = true;
    close_reason_ = reason;
    if (handler_) {
      auto handler = std::move(handler_);
      handler->on_close(reason);
    }
  }

  boost::asio::io_context& context_;
  std::size_t shard_;
  eio::Revision revision_;
  std::string id_;
  std::shared_ptr<const eio::Handshake> handshake_;
  std::unique_ptr<eio::ConnectionHandler> handler_;
  std::vector<eio::SharedPacket> sent_;
  // Posted closes check it: the connection may be gone by the time the loop runs them.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool writable_ = true;
  bool closed_ = false;
  int close_calls_ = 0;
  std::string close_reason_;
};

}  // namespace iogate::test_support
