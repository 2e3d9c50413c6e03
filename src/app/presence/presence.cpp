#include "app/presence/presence.h"

#include <algorithm>
#include <set>
#include <utility>

namespace iogate::app {

PresenceStore::Added MemoryPresence::add_locked(const std::string& nsp, const std::string& user,
                                                const std::string& socket_id,
                                                std::chrono::system_clock::time_point since, std::size_t limit,
                                                bool evict_oldest) {
  auto& connections = namespaces_[nsp][user];
  // Decided before any eviction: a replaced connection does not make the user new again.
  bool first = connections.empty();
  Added added;
  if (limit > 0 && connections.size() >= limit) {
    if (!evict_oldest) {
      added.result = AddResult::refused;
      return added;
    }
    added.evicted = connections.front().socket_id;
    connections.erase(connections.begin());
    --connection_counts_[nsp];
  }
  // Oldest first, also for connections recorded late by reconcile().
  auto position = std::upper_bound(connections.begin(), connections.end(), since,
                                   [](auto time, const Connection& c) { return time < c.since; });
  connections.insert(position, Connection{socket_id, since});
  ++connection_counts_[nsp];
  added.result = first ? AddResult::first_connection : AddResult::added;
  return added;
}

bool MemoryPresence::remove_locked(const std::string& nsp, const std::string& user, const std::string& socket_id) {
  auto users = namespaces_.find(nsp);
  if (users == namespaces_.end()) {
    return false;
  }
  auto found = users->second.find(user);
  if (found == users->second.end()) {
    return false;
  }
  auto& connections = found->second;
  auto it = std::find_if(connections.begin(), connections.end(),
                         [&](const Connection& c) { return c.socket_id == socket_id; });
  if (it == connections.end()) {
    return false;
  }
  connections.erase(it);
  --connection_counts_[nsp];
  if (!connections.empty()) {
    return false;
  }
  users->second.erase(found);
  return true;
}

void MemoryPresence::add(const std::string& nsp, const std::string& user, const std::string& /*username*/,
                         const std::string& socket_id, std::size_t limit, bool evict_oldest,
                         std::function<void(Added)> done) {
  Added added;
  {
    std::lock_guard lock(mutex_);
    added = add_locked(nsp, user, socket_id, std::chrono::system_clock::now(), limit, evict_oldest);
  }
  done(std::move(added));
}

void MemoryPresence::remove(const std::string& nsp, const std::string& user, const std::string& socket_id,
                            std::function<void(bool last)> done) {
  bool last = false;
  {
    std::lock_guard lock(mutex_);
    last = remove_locked(nsp, user, socket_id);
  }
  done(last);
}

void MemoryPresence::connections(const std::string& nsp, const std::string& user,
                                 std::function<void(std::optional<std::vector<Connection>>)> done) {
  std::vector<Connection> found;
  {
    std::lock_guard lock(mutex_);
    if (auto users = namespaces_.find(nsp); users != namespaces_.end()) {
      if (auto it = users->second.find(user); it != users->second.end()) {
        found = it->second;
      }
    }
  }
  done(std::move(found));
}

void MemoryPresence::is_online(const std::string& nsp, const std::string& user,
                               std::function<void(std::optional<bool>)> done) {
  bool online = false;
  {
    std::lock_guard lock(mutex_);
    auto users = namespaces_.find(nsp);
    online = users != namespaces_.end() && users->second.contains(user);
  }
  done(online);
}

void MemoryPresence::online_users(const std::string& nsp,
                                  std::function<void(std::optional<std::vector<std::string>>)> done) {
  std::vector<std::string> users;
  {
    std::lock_guard lock(mutex_);
    if (auto it = namespaces_.find(nsp); it != namespaces_.end()) {
      users.reserve(it->second.size());
      for (const auto& entry : it->second) {
        users.push_back(entry.first);
      }
    }
  }
  done(std::move(users));
}

void MemoryPresence::connection_count(const std::string& nsp, std::function<void(std::optional<std::size_t>)> done) {
  std::size_t count = 0;
  {
    std::lock_guard lock(mutex_);
    if (auto it = connection_counts_.find(nsp); it != connection_counts_.end()) {
      count = it->second;
    }
  }
  done(count);
}

void MemoryPresence::reconcile(std::vector<LiveConnection> live, std::chrono::system_clock::time_point cutoff,
                               std::function<void(PresenceChanges)> done) {
  PresenceChanges changes;
  {
    std::lock_guard lock(mutex_);
    // Recorded first, so that a user with a stale record and a live one does not flap.
    std::set<std::pair<std::string, std::string>> live_ids;  // (namespace, socket id)
    for (const auto& connection : live) {
      live_ids.emplace(connection.nsp, connection.socket_id);
      changes.settled.push_back(connection.socket_id);
      const auto& recorded = namespaces_[connection.nsp][connection.user];
      bool known = std::any_of(recorded.begin(), recorded.end(),
                               [&](const Connection& c) { return c.socket_id == connection.socket_id; });
      if (!known && add_locked(connection.nsp, connection.user, connection.socket_id, connection.since, 0, false)
                            .result == AddResult::first_connection) {
        changes.online.push_back(PresenceUser{connection.nsp, connection.user, std::nullopt});
      }
    }
    for (auto& [nsp, users] : namespaces_) {
      for (auto it = users.begin(); it != users.end();) {
        auto& connections = it->second;
        std::size_t before = connections.size();
        std::erase_if(connections, [&, &name = nsp](const Connection& c) {
          return c.since < cutoff && !live_ids.contains({name, c.socket_id});
        });
        connection_counts_[nsp] -= before - connections.size();
        if (connections.empty()) {
          changes.offline.push_back(PresenceUser{nsp, it->first, std::nullopt});
          it = users.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  done(std::move(changes));
}

}  // namespace iogate::app
