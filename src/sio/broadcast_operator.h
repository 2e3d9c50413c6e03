#pragma once
// Selects sockets of a namespace (rooms, exceptions, flags) and acts on them, on every shard
// and, through the adapter, on every node. A small value: each call returns a new operator.
// Usable from any thread.
//
// Example:
//   io.of("/chat").to("room1").except("muted").emit("message", {boost::json::array{"hi"}});
//   io.of("/chat").timeout(2s).emit_with_ack("poll", {}, [](auto error, auto replies) { ... });
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sio/adapter.h"
#include "sio/payload.h"

namespace iogate::sio {

class Namespace;

class BroadcastOperator {
 public:
  // error: nullopt when every reached client answered in time, else "operation has timed out".
  using AckCollector = std::function<void(std::optional<std::string> error, std::vector<Payload> replies)>;

  BroadcastOperator(Namespace& nsp, BroadcastOptions options) : nsp_(&nsp), options_(std::move(options)) {}

  BroadcastOperator to(std::string room) const;
  BroadcastOperator to(const std::vector<std::string>& rooms) const;
  BroadcastOperator in(std::string room) const { return to(std::move(room)); }
  BroadcastOperator except(std::string room) const;
  BroadcastOperator except(const std::vector<std::string>& rooms) const;
  BroadcastOperator local() const;
  BroadcastOperator volatile_() const;
  BroadcastOperator compress(bool enabled) const;
  BroadcastOperator timeout(std::chrono::milliseconds value) const;

  void emit(std::string_view event, Payload payload = {}) const;
  // Collects one reply per reached client until all replied or the timeout (default 5 s) passed.
  void emit_with_ack(std::string_view event, Payload payload, AckCollector done) const;

  // Every matching socket of every node; see FetchCallback for error.
  void fetch_sockets(FetchCallback done) const;
  void sockets_join(std::vector<std::string> rooms) const;
  void sockets_leave(std::vector<std::string> rooms) const;
  void disconnect_sockets(bool close = false) const;

  const BroadcastOptions& options() const noexcept { return options_; }

 private:
  Namespace* nsp_;
  BroadcastOptions options_;
};

}  // namespace iogate::sio
