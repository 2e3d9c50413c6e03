#pragma once
// Presence for a cluster: every node's connections in one Redis, each decision one Lua script
// (one round trip, atomic), so the per-user cap holds across nodes and exactly one node sees a
// user come online (first_connection) or go offline (last removal).
//
// Keys (P is the prefix, the cluster's Redis key; N a namespace as named, e.g. "/admin"):
//   P:presence:N:user:<user>    hash  socket id -> "<since ms> <node>"   a user's connections
//   P:presence:N:users          set   users with a connection              (no KEYS scans)
//   P:presence:N:connections    int   connections in N
//   P:presence:N:names          hash  user -> username (the latest add's), while the user has one
//   P:presence:N:offline:<user> str   the user was announced offline in a recovery window (below)
//   P:node:<node>               str   heartbeat, expires after heartbeat_ttl
//   P:node:<node>:sockets       hash  socket id -> "<since ms>\n<N>\n<user>\n<guide user>"
//   P:nodes                     set   nodes that have sent a heartbeat or hold records
//   P:epoch                     str   names this Redis's presence state (set when missing)
//   P:recovering                str   lives recovery_window from a new epoch
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
// connection; on_users_gone() gets them with their usernames, once cluster-wide since the sweep
// is one script. A node that has just (re)connected waits one heartbeat_ttl before sweeping, so
// that nodes coming back from the same Redis outage can renew their heartbeats first.
//
// Redis away: connections are accepted without a record (AddResult::unrecorded) and removals
// report "not last", so nobody waits on Redis and nothing is announced twice. When the link comes
// back, on_resync_needed() asks the gateway to reconcile() this node's live connections.
//
// Redis back empty (restarted, flushed): the first script to find no P:epoch sets a new one, and
// P:recovering for recovery_window. reconcile() reads the epoch with this node's socket index; a
// node knows the epoch its records were last complete in, so a different one means Redis lost
// them. Then a live connection marked `announced` comes back silently: its user was announced
// online and, as far as anyone knows, never offline. Unless its user has an offline tombstone:
// while P:recovering lives, every last removal (a user announced offline) leaves one, so a user
// whose last connection elsewhere went before this node brought its own back is announced online
// again. Every other missing record (not announced, or Redis kept its state, so that someone
// removed the record: a sweep that took this node for stopped, which announced its users offline)
// is recorded as new, its user reported online when that brings it online.
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
  // After a new epoch: how long last removals leave offline tombstones, for nodes to re-sync in.
  std::chrono::milliseconds recovery_window{60'000};
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

  void add(const std::string& nsp, const std::string& user, const std::string& username, const std::string& socket_id,
           std::size_t limit, bool evict_oldest, std::function<void(Added)> done) override;
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
