#pragma once
// What the gateways do, as configured (the binary fills it from file, environment and flags).
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/auth/jwt.h"
#include "app/ratelimit/rate_limiter.h"

namespace iogate::app {

// Client events the gateways understand; each namespace enables a subset (all by default).
inline const std::vector<std::string> kGatewayEvents = {
    "ping", "app:ping", "private:message", "room:join", "room:leave", "room:message"};

struct AuthSettings {
  std::string id_claim = "id";
  std::string username_claim = "username";
  bool require_status = true;  // the token must carry status == 1
  std::chrono::seconds leeway{5};
};

struct GatewayConfig {
  std::map<std::string, std::vector<std::string>> namespaces{{"/admin", kGatewayEvents}, {"/web", kGatewayEvents}};
  AuthSettings auth;
  std::size_t max_connections_per_user = 5;  // per namespace; 0: no limit
  bool evict_oldest_connection = false;      // else the newest is refused
  RateLimit rate_limit;                      // per user, namespace and event
  std::map<std::string, RateLimit> event_rate_limits;
  std::chrono::milliseconds offline_grace{0};
  std::chrono::seconds presence_cleanup_interval{300};
  // A presence re-sync (the store's Redis is back) first brings back the connections whose users
  // were announced, then, this long after, records the others and announces their users: time
  // for the other nodes of the cluster to bring theirs back first, and to resubscribe.
  std::chrono::milliseconds presence_resync_settle{2'000};
  // How long a re-sync waits for the cluster adapter's links (Gateway::wait_for_cluster) before it
  // announces anyway.
  std::chrono::milliseconds presence_resync_cluster_wait{10'000};
  std::size_t max_message_length = 10'000;
  std::size_t max_room_name_length = 128;
  std::size_t max_rooms_per_connection = 100;  // rooms a client may join (its own user room aside)
};

}  // namespace iogate::app
