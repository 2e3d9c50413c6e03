#pragma once
// The Redis cluster adapter: every namespace's sio::Adapter on one node, speaking the wire of
// @socket.io/redis-adapter 8.3 (classic Pub/Sub, `createAdapter`, which @socket.io/redis-emitter
// also talks) or of its sharded variant (Redis 7 SPUBLISH/SSUBSCRIBE, `createShardedAdapter`),
// so that iogate and Node nodes on one Redis and key form one cluster.
//
// Threads: the node's Redis links (one command, one subscriber connection) live on one shard's
// io_context, the "home" loop. Adapters are called on any shard: local delivery happens there
// and then, the Redis work (encoded on the calling thread) is posted home. Messages from Redis
// are decoded at home and handed to the namespace's LocalSockets, which fan out to the shards.
// While Redis is away local delivery goes on, publishes are counted as dropped, cluster-wide
// requests answer with this node alone, and the links come back by themselves.
//
// Example:
//   adapter::redis::Cluster cluster(pool.context(0), {.endpoint = *redis::parse_url(url)});
//   sio::Server io(pool, {.adapter = cluster.factory()});
//   cluster.start();
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "redis/connection.h"
#include "sio/adapter.h"

namespace iogate::adapter::redis {

enum class Mode { classic, sharded };

// Which room channels a sharded node subscribes to (subscriptionMode in Node).
enum class SubscriptionMode {
  dynamic,          // public rooms (not socket ids) get their own channel
  dynamic_private,  // every room does
  static_rooms,     // none: everything goes through the namespace channel
};

struct ClusterOptions {
  iogate::redis::Endpoint endpoint;
  std::string key = "socket.io";  // `key` (classic) / `channelPrefix` (sharded)
  Mode mode = Mode::classic;
  SubscriptionMode subscription_mode = SubscriptionMode::dynamic;
  // How long fetch_sockets / all_rooms / server_side_emit_with_ack wait for other nodes.
  std::chrono::milliseconds requests_timeout{5'000};
  // Classic only: answer on "<key>-response#<nsp>#<uid>#" instead of the shared channel.
  bool publish_on_specific_response_channel = false;
};

// Counters for logs and metrics, readable from any thread.
struct ClusterStats {
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> publish_failures{0};  // Redis away or refused
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> malformed{0};  // messages on our channels we could not read
  std::atomic<std::uint64_t> request_timeouts{0};
};

class Cluster {
 public:
  Cluster(boost::asio::io_context& home, ClusterOptions options);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Called on the home loop when both links are up (true) or when one drops (false).
  void on_state(std::function<void(bool connected)> handler);
  // Connects (from any thread); the adapters work before and while Redis is away.
  void start();

  // Adapters for sio::ServerOptions::adapter. The Cluster must outlive the sio::Server.
  sio::AdapterFactory factory();

  bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }
  const ClusterStats& stats() const noexcept { return stats_; }
  const ClusterOptions& options() const noexcept { return options_; }
  // Why the last Redis connect attempt failed (home loop only).
  std::string last_error() const;

  class NamespaceLink;

 private:
  friend class NamespaceLink;

  bool on_home() const;
  void run_home(std::function<void()> work);
  void publish(std::string channel, std::string message);
  void update_state();

  boost::asio::io_context& home_;
  ClusterOptions options_;
  ClusterStats stats_;
  std::atomic<bool> connected_{false};
  std::function<void(bool)> on_state_;
  std::unique_ptr<iogate::redis::Connection> commands_;
  std::unique_ptr<iogate::redis::Connection> subscriber_;
  // Home loop only.
  std::map<std::string, std::shared_ptr<NamespaceLink>> namespaces_;
};

}  // namespace iogate::adapter::redis
