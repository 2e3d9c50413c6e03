#include "app/presence/presence.h"

#include <algorithm>

namespace iogate::app {

PresenceStore::AddResult MemoryPresence::add(const std::string& nsp, const std::string& user_key,
                                             const std::string& socket_id, std::size_t limit, bool evict_oldest,
                                             std::optional<std::string>& evicted) {
  std::lock_guard lock(mutex_);
  auto& connections = namespaces_[nsp][user_key];
  // Decided before any eviction: a replaced connection does not make the user new again.
  bool first = connections.empty();
  if (limit > 0 && connections.size() >= limit) {
    if (!evict_oldest) {
      return AddResult::refused;
    }
    evicted = connections.front().socket_id;
    connections.erase(connections.begin());
    --connection_counts_[nsp];
  }
  connections.push_back(Connection{socket_id, std::chrono::system_clock::now()});
  ++connection_counts_[nsp];
  return first ? AddResult::first_connection : AddResult::added;
}

bool MemoryPresence::remove(const std::string& nsp, const std::string& user_key, const std::string& socket_id) {
  std::lock_guard lock(mutex_);
  auto users = namespaces_.find(nsp);
  if (users == namespaces_.end()) {
    return false;
  }
  auto user = users->second.find(user_key);
  if (user == users->second.end()) {
    return false;
  }
  auto& connections = user->second;
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
  users->second.erase(user);
  return true;
}

std::vector<Connection> MemoryPresence::connections(const std::string& nsp, const std::string& user_key) const {
  std::lock_guard lock(mutex_);
  auto users = namespaces_.find(nsp);
  if (users == namespaces_.end()) {
    return {};
  }
  auto user = users->second.find(user_key);
  return user == users->second.end() ? std::vector<Connection>{} : user->second;
}

bool MemoryPresence::is_online(const std::string& nsp, const std::string& user_key) const {
  std::lock_guard lock(mutex_);
  auto users = namespaces_.find(nsp);
  return users != namespaces_.end() && users->second.contains(user_key);
}

std::vector<std::string> MemoryPresence::online_users(const std::string& nsp) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> users;
  if (auto it = namespaces_.find(nsp); it != namespaces_.end()) {
    users.reserve(it->second.size());
    for (const auto& [user, connections] : it->second) {
      users.push_back(user);
    }
  }
  return users;
}

std::size_t MemoryPresence::online_count(const std::string& nsp) const {
  std::lock_guard lock(mutex_);
  auto it = namespaces_.find(nsp);
  return it == namespaces_.end() ? 0 : it->second.size();
}

std::size_t MemoryPresence::connection_count(const std::string& nsp) const {
  std::lock_guard lock(mutex_);
  auto it = connection_counts_.find(nsp);
  return it == connection_counts_.end() ? 0 : it->second;
}

std::vector<std::string> MemoryPresence::remove_stale(const std::string& nsp, const std::set<std::string>& live,
                                                      std::chrono::seconds min_age) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> gone;
  auto users = namespaces_.find(nsp);
  if (users == namespaces_.end()) {
    return gone;
  }
  auto cutoff = std::chrono::system_clock::now() - min_age;
  for (auto it = users->second.begin(); it != users->second.end();) {
    auto& connections = it->second;
    std::size_t before = connections.size();
    std::erase_if(connections, [&](const Connection& c) { return c.since < cutoff && !live.contains(c.socket_id); });
    connection_counts_[nsp] -= before - connections.size();
    if (connections.empty()) {
      gone.push_back(it->first);
      it = users->second.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

}  // namespace iogate::app
