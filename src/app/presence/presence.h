#pragma once
// Who is online: per namespace, each user's connections (socket ids). Answers "is this user
// online", "which users are", "how many connections" without scanning. MemoryPresence keeps it in
// this process (one node, the default); RedisPresence (redis_presence.h) keeps it in Redis for a
// cluster of nodes.
//
// Asynchronous: every answer comes through a callback, which may run at once inside the call
// (MemoryPresence) or later on another thread (RedisPresence: its Redis loop). A caller that must
// act on a socket's shard hops back there itself. Thread-safe: shards call it concurrently.
//
// Example:
//   presence.add("/admin", "1", "alice", socket.id(), 5, false, [](PresenceStore::Added added) {
//     if (added.result == PresenceStore::AddResult::first_connection) { /* announce user:online */ }
//   });
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace iogate::app {

struct Connection {
  std::string socket_id;
  std::chrono::system_clock::time_point since;
};

// A connection this node holds, as the gateway knows it.
struct LiveConnection {
  std::string nsp;
  std::string user;
  std::string socket_id;
  std::chrono::system_clock::time_point since;
  std::string username;
  // The user's online state was announced while this connection lived (its add answered
  // first_connection or added, or a reconcile recorded it). reconcile() brings such a
  // connection back silently when the store lost it with everything else (Redis restarted
  // empty): nobody was told the user went offline.
  bool announced = false;
};

struct PresenceUser {
  std::string nsp;
  std::string user;
  std::optional<std::string> username;  // as stored with the user's presence, when the store has it
};

// What reconcile() changed: users to announce online (it brought them online and their online
// state was not announced before), users it left with no connection, and the live connections
// now recorded (by it or before).
struct PresenceChanges {
  std::vector<PresenceUser> online;
  std::vector<PresenceUser> offline;
  std::vector<std::string> settled;  // socket ids
};

class PresenceStore {
 public:
  virtual ~PresenceStore() = default;

  enum class AddResult {
    added,
    first_connection,
    refused,
    // The store did not answer (Redis away): the connection goes on without a record, and
    // reconcile() records it once the store is back.
    unrecorded,
  };
  struct Added {
    AddResult result = AddResult::added;
    std::optional<std::string> evicted;  // the oldest connection, replaced by this one
  };

  // Records a connection unless the user already has `limit` of them in `nsp` (0: no limit);
  // with `evict_oldest` the oldest makes room instead. `first_connection` goes to exactly one
  // add per flip of the user from offline to online. A store that reports users gone keeps
  // `username` (the latest add's) with the user's presence until its last connection goes.
  virtual void add(const std::string& nsp, const std::string& user, const std::string& username,
                   const std::string& socket_id, std::size_t limit, bool evict_oldest,
                   std::function<void(Added)> done) = 0;
  // Removes a connection; done(true) for exactly the removal that left the user with none in
  // `nsp`. False also when the store did not answer: reconcile() settles that record later.
  virtual void remove(const std::string& nsp, const std::string& user, const std::string& socket_id,
                      std::function<void(bool last)> done) = 0;

  // Queries; nullopt when the store does not answer.
  virtual void connections(const std::string& nsp, const std::string& user,
                           std::function<void(std::optional<std::vector<Connection>>)> done) = 0;  // oldest first
  virtual void is_online(const std::string& nsp, const std::string& user,
                         std::function<void(std::optional<bool>)> done) = 0;
  virtual void online_users(const std::string& nsp,
                            std::function<void(std::optional<std::vector<std::string>>)> done) = 0;
  virtual void connection_count(const std::string& nsp, std::function<void(std::optional<std::size_t>)> done) = 0;

  // Makes this node's records match its connections: records each live connection that has no
  // record, and drops this node's records of sockets not in `live` made before `cutoff` (younger
  // ones may belong to connections still completing; time_point::min() drops none).
  virtual void reconcile(std::vector<LiveConnection> live, std::chrono::system_clock::time_point cutoff,
                         std::function<void(PresenceChanges)> done) = 0;

  // Users the store found gone by itself (every connection on a node that stopped), for the
  // gateway to announce offline; reported once cluster-wide, with their stored usernames. Set
  // before serving.
  virtual void on_users_gone(std::function<void(std::vector<PresenceUser>)>) {}
  // Called when the store may have lost track of this node's connections (Redis came back):
  // answer with reconcile(). Set before serving.
  virtual void on_resync_needed(std::function<void()>) {}
};

// Answers every call at once, inside the call.
class MemoryPresence final : public PresenceStore {
 public:
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

 private:
  using Users = std::map<std::string, std::vector<Connection>>;  // user -> connections, oldest first

  Added add_locked(const std::string& nsp, const std::string& user, const std::string& socket_id,
                   std::chrono::system_clock::time_point since, std::size_t limit, bool evict_oldest);
  bool remove_locked(const std::string& nsp, const std::string& user, const std::string& socket_id);

  std::mutex mutex_;
  std::map<std::string, Users> namespaces_;
  std::map<std::string, std::size_t> connection_counts_;
};

}  // namespace iogate::app
