#pragma once
// Who is online: per namespace, each user's connections (socket ids). Answers "is this user
// online", "which users are", "how many" without scanning. The in-memory store is the default;
// a Redis store (cluster issue) implements the same interface over the guide's keys.
//
// Thread-safe: shards call it concurrently at connect and disconnect.
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace iogate::app {

struct Connection {
  std::string socket_id;
  std::chrono::system_clock::time_point since;
};

class PresenceStore {
 public:
  virtual ~PresenceStore() = default;

  enum class AddResult { added, first_connection, refused };
  // Records a connection unless the user already has `limit` of them in `nsp` (0: no limit).
  // `evicted` receives the oldest connection's id when `evict_oldest` made room for this one.
  virtual AddResult add(const std::string& nsp, const std::string& user_key, const std::string& socket_id,
                        std::size_t limit, bool evict_oldest, std::optional<std::string>& evicted) = 0;
  // Removes a connection; true when it was the user's last one in `nsp`.
  virtual bool remove(const std::string& nsp, const std::string& user_key, const std::string& socket_id) = 0;

  virtual std::vector<Connection> connections(const std::string& nsp, const std::string& user_key) const = 0;
  virtual bool is_online(const std::string& nsp, const std::string& user_key) const = 0;
  virtual std::vector<std::string> online_users(const std::string& nsp) const = 0;
  virtual std::size_t online_count(const std::string& nsp) const = 0;
  virtual std::size_t connection_count(const std::string& nsp) const = 0;

  // Drops records whose socket is not in `live` (sockets that went away without a disconnect
  // being recorded) and that are older than `min_age`. Returns the users left with none.
  virtual std::vector<std::string> remove_stale(const std::string& nsp, const std::set<std::string>& live,
                                                std::chrono::seconds min_age) = 0;
};

class MemoryPresence final : public PresenceStore {
 public:
  AddResult add(const std::string& nsp, const std::string& user_key, const std::string& socket_id, std::size_t limit,
                bool evict_oldest, std::optional<std::string>& evicted) override;
  bool remove(const std::string& nsp, const std::string& user_key, const std::string& socket_id) override;
  std::vector<Connection> connections(const std::string& nsp, const std::string& user_key) const override;
  bool is_online(const std::string& nsp, const std::string& user_key) const override;
  std::vector<std::string> online_users(const std::string& nsp) const override;
  std::size_t online_count(const std::string& nsp) const override;
  std::size_t connection_count(const std::string& nsp) const override;
  std::vector<std::string> remove_stale(const std::string& nsp, const std::set<std::string>& live,
                                        std::chrono::seconds min_age) override;

 private:
  using Users = std::map<std::string, std::vector<Connection>>;  // user key -> connections, oldest first
  mutable std::mutex mutex_;
  std::map<std::string, Users> namespaces_;
  std::map<std::string, std::size_t> connection_counts_;
};

}  // namespace iogate::app
