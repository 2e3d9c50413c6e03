#pragma once
// The guide's /admin and /web gateways on the Socket.IO API: JWT authentication at connect,
// per-user presence with online/offline announced once per user, private and room messages,
// input validation with `error` events, connection and rate limits, token expiry.
//
// Refusal codes (connect_error data.code), stable:
//   AUTH_TOKEN_MISSING, AUTH_TOKEN_MALFORMED, AUTH_ALGORITHM_NOT_ALLOWED, AUTH_SIGNATURE_INVALID,
//   AUTH_TOKEN_EXPIRED, AUTH_TOKEN_NOT_YET_VALID, AUTH_USER_ID_MISSING, AUTH_USER_INACTIVE,
//   CONNECTION_LIMIT.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "app/auth/jwt.h"
#include "app/gateway/gateway_config.h"
#include "app/presence/presence.h"
#include "app/presence/user_ids.h"
#include "app/ratelimit/rate_limiter.h"
#include "sio/server.h"

namespace iogate::app {

// ISO-8601 UTC with milliseconds, as a JavaScript Date serialises ("2026-11-27T08:00:00.000Z").
std::string iso_timestamp(std::chrono::system_clock::time_point time = std::chrono::system_clock::now());

inline std::string user_room(const std::string& key) { return "user:" + key; }

// Presence and rate limits are asynchronous (a cluster decides them in Redis): the gateway
// carries on with a connection or an event once the store answers, back on the socket's shard.
class Gateway {
 public:
  Gateway(sio::Server& io, GatewayConfig config, auth::JwtVerifier verifier, PresenceStore& presence,
          RateLimiter& rate_limiter);
  ~Gateway();

  // Registers middlewares and handlers on every configured namespace, and the presence store's
  // handlers; call before serving.
  void install();

  // In a cluster the presence events reach the other nodes through the adapter's own Redis links,
  // which come back from an outage on their own. `connected` says whether they are up: a presence
  // re-sync waits for them, at most config.presence_resync_cluster_wait, before it records and
  // announces, and runs its steps on `home` (where `connected` is called). Without it a re-sync
  // is one reconcile at once. Call before serving.
  void wait_for_cluster(boost::asio::io_context& home, std::function<bool()> connected);

  const GatewayConfig& config() const noexcept { return config_; }
  PresenceStore& presence() noexcept { return presence_; }
  sio::Server& io() noexcept { return io_; }

  // Settles this node's presence records against its live connections (records of sockets gone
  // without a recorded disconnect, connections the store could not record), announces the users
  // that changed, and forgets rate limit windows that have ended. Periodic.
  void clean_stale_presence();

 private:
  struct State;
  struct SocketUser;
  using Next = std::function<void(std::optional<sio::ConnectError>)>;

  void admit(sio::Socket& socket, const Next& next, boost::json::object user, const PresenceStore::Added& added);
  void handle_event(sio::Socket& socket, sio::Event& event, const SocketUser& user);
  void announce_offline(sio::Namespace& nsp, boost::asio::io_context& context, const SocketUser& user);
  // Reconciles this node's live connections (only those whose users were announced, with
  // `announced_only`) and announces what changed.
  void reconcile_presence(std::chrono::system_clock::time_point cutoff, bool announced_only);
  // The store's Redis is back: re-sync in two steps once the cluster adapter is (see config).
  void resync_presence();
  // Runs `then` on the cluster's home loop once the cluster adapter is connected or `deadline`
  // passed, unless another re-sync has started meanwhile.
  void when_cluster_ready(std::uint64_t resync, std::chrono::steady_clock::time_point deadline,
                          std::function<void()> then);
  // Only for the gateway's namespaces: a store shared with other nodes may name others.
  sio::Namespace* gateway_namespace(const std::string& name);

  sio::Server& io_;
  GatewayConfig config_;
  auth::JwtVerifier verifier_;
  PresenceStore& presence_;
  RateLimiter& rate_limiter_;
  boost::asio::io_context* cluster_home_ = nullptr;  // null: no cluster adapter to wait for
  std::function<bool()> cluster_connected_;
  std::shared_ptr<State> state_;
};

}  // namespace iogate::app
