#pragma once
// Presence for a cluster: every node's connections in one Redis, each decision one Lua script
// (one round trip, atomic), so the per-user cap holds across nodes and exactly one node sees a
// user come online (first_connection) or go offline (last removal).
//
// Keys (P is the prefix, the cluster's Redis key; N a namespace as named, e.g. "/admin"):
//   P:presence:N:user:<user>    hash  socket id -> "<since ms> <node>"   a user's connections
//   P:presence:N:users          set   users with a connection              (no KEYS scans)
//   P:presence:N:connections    int   connections in N
//   P:node:<node>               str   heartbeat, expires after heartbeat_ttl
//   P:node:<node>:sockets       hash  socket id -> "<since ms>\n<N>\n<user>\n<guide user>"
//   P:nodes                     set   nodes that have sent a heartbeat or hold records
// and the guide's keys, which other nest-admin code reads, kept in step by the same scripts:
//   socket:connections:<ns>:<user id>   set of socket ids   (ns: N without its '/')
//   socket:user:<socket id>             {"userId": <id>, "namespace": "<ns>"}
// The guide gives both a 24 h expiry; here they live exactly as long as the connection's record,
// since the heartbeat sweep below removes what a stopped node leaves. Users are filed under their
// presence id (JSON text); the guide's keys use the id as text, as JavaScript writes it.
// The scripts name keys they compute, so they need one Redis server, not a Redis Cluster.
//
// Stopped nodes: each node refreshes its heartbeat every heartbeat_interval and files its
// connections under its id. The same script then sweeps: the records of nodes whose heartbeat has
// expired are removed, at most sweep_budget per round, and it returns the users it left with no
// connection; on_users_gone() gets them, once cluster-wide since the sweep is one script. A node
// that has just (re)connected waits one heartbeat_ttl before sweeping, so that nodes coming back
// from the same Redis outage can renew their heartbeats first.
//
// Redis away: connections are accepted without a record (AddResult::unrecorded) and removals
// report "not last", so nobody waits on Redis and nothing is announced twice. When the link comes
// back, on_resync_needed() asks the gateway to reconcile() this node's live connections.
//
// Threads: calls from any thread; callbacks run on the link's home loop. Destroy it on the home
// loop or while that loop is not running.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/presence/presence.h"
#include "app/redis/redis_link.h"

namespace iogate::app {

struct RedisPresenceOptions {
  std::string prefix = "socket.io";
  std::string node_id;  // empty: a random one
  std::chrono::milliseconds heartbeat_interval{5'000};
  std::chrono::milliseconds heartbeat_ttl{15'000};
  std::size_t sweep_budget = 500;  // records a sweep script removes at most
};

class RedisPresence final : public PresenceStore {
 public:
  // Construct it before link.start(): it watches the link come up to renew its heartbeat at once
  // and ask for a resync. The heartbeat runs on the link's home loop.
  RedisPresence(RedisLink& link, RedisPresenceOptions options);
  ~RedisPresence() override;
  RedisPresence(const RedisPresence&) = delete;
  RedisPresence& operator=(const RedisPresence&) = delete;

  const std::string& node_id() const noexcept;

  void add(const std::string& nsp, const std::string& user, const std::string& socket_id, std::size_t limit,
           bool evict_oldest, std::function<void(Added)> done) override;
  void remove(const std::string& nsp, const std::string& user, const std::string& socket_id,
              std::function<void(bool last)> done) override;
  void connections(const std::string& nsp, const std::string& user,
                   std::function<void(std::optional<std::vector<Connection>>)> done) override;
  void is_online(const std::string& nsp, const std::string& user,
                 std::function<void(std::optional<bool>)> done) override;
  void online_users(const std::string& nsp, std::function<void(std::optional<std::vector<std::string>>)> done) override;
  void connection_count(const std::string& nsp, std::function<void(std::optional<std::size_t>)> done) override;
  void reconcile(std::vector<LiveConnection> live, std::chrono::system_clock::time_point cutoff,
                 std::function<void(PresenceChanges)> done) override;
  void on_users_gone(std::function<void(std::vector<PresenceUser>)> handler) override;
  void on_resync_needed(std::function<void()> handler) override;

 private:
  struct Core;
  std::shared_ptr<Core> core_;  // timers and replies hold it weakly
};

}  // namespace iogate::app
