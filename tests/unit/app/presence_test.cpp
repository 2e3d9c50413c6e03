#include "app/presence/presence.h"

#include <gtest/gtest.h>

#include "app/ratelimit/rate_limiter.h"

namespace iogate::app {
namespace {

using namespace std::chrono_literals;

// MemoryPresence answers inside the call: these read its answers at once.
PresenceStore::Added add(MemoryPresence& presence, const std::string& nsp, const std::string& user,
                         const std::string& socket_id, std::size_t limit = 5, bool evict_oldest = false) {
  PresenceStore::Added added;
  presence.add(nsp, user, "name" + user, socket_id, limit, evict_oldest,
               [&](PresenceStore::Added answer) { added = answer; });
  return added;
}

bool remove(MemoryPresence& presence, const std::string& nsp, const std::string& user, const std::string& socket_id) {
  std::optional<bool> last;
  presence.remove(nsp, user, socket_id, [&](bool answer) { last = answer; });
  EXPECT_TRUE(last.has_value());
  return last.value_or(false);
}

bool is_online(MemoryPresence& presence, const std::string& nsp, const std::string& user) {
  std::optional<bool> online;
  presence.is_online(nsp, user, [&](std::optional<bool> answer) { online = answer.value(); });
  return online.value();
}

std::size_t connection_count(MemoryPresence& presence, const std::string& nsp) {
  std::optional<std::size_t> count;
  presence.connection_count(nsp, [&](std::optional<std::size_t> answer) { count = answer; });
  return count.value();
}

TEST(MemoryPresence, FirstAndLastConnectionOfAUser) {
  MemoryPresence presence;
  EXPECT_EQ(add(presence, "/admin", "1", "a").result, PresenceStore::AddResult::first_connection);
  EXPECT_EQ(add(presence, "/admin", "1", "b").result, PresenceStore::AddResult::added);
  EXPECT_EQ(add(presence, "/web", "1", "c").result, PresenceStore::AddResult::first_connection);
  EXPECT_TRUE(is_online(presence, "/admin", "1"));
  std::optional<std::vector<std::string>> users;
  presence.online_users("/admin", [&](auto answer) { users = std::move(answer); });
  ASSERT_TRUE(users);
  EXPECT_EQ(*users, std::vector<std::string>{"1"});
  EXPECT_EQ(connection_count(presence, "/admin"), 2U);
  EXPECT_FALSE(remove(presence, "/admin", "1", "a"));
  EXPECT_TRUE(remove(presence, "/admin", "1", "b"));
  EXPECT_FALSE(is_online(presence, "/admin", "1"));
  EXPECT_TRUE(is_online(presence, "/web", "1"));
  EXPECT_FALSE(remove(presence, "/admin", "1", "b"));
  EXPECT_EQ(connection_count(presence, "/admin"), 0U);
}

TEST(MemoryPresence, RefusesOrEvictsAtTheLimit) {
  MemoryPresence presence;
  add(presence, "/admin", "1", "a", 2);
  add(presence, "/admin", "1", "b", 2);
  auto refused = add(presence, "/admin", "1", "c", 2);
  EXPECT_EQ(refused.result, PresenceStore::AddResult::refused);
  EXPECT_FALSE(refused.evicted);
  auto replacing = add(presence, "/admin", "1", "c", 2, true);
  EXPECT_EQ(replacing.result, PresenceStore::AddResult::added);
  ASSERT_TRUE(replacing.evicted);
  EXPECT_EQ(*replacing.evicted, "a");
  std::optional<std::vector<Connection>> connections;
  presence.connections("/admin", "1", [&](auto answer) { connections = std::move(answer); });
  ASSERT_TRUE(connections);
  ASSERT_EQ(connections->size(), 2U);
  EXPECT_EQ((*connections)[0].socket_id, "b");
  EXPECT_EQ((*connections)[1].socket_id, "c");
  EXPECT_EQ(connection_count(presence, "/admin"), 2U);
}

TEST(MemoryPresence, ReconcileDropsOldRecordsNotLiveAndRecordsLiveOnes) {
  MemoryPresence presence;
  auto now = std::chrono::system_clock::now();
  add(presence, "/admin", "1", "gone");
  add(presence, "/admin", "2", "live");
  std::vector<LiveConnection> live{{"/admin", "2", "live", now, "name2", true},
                                   {"/admin", "3", "unrecorded", now, "name3", false}};

  // Fresh records survive however they look: a connection may still be completing.
  PresenceChanges changes;
  presence.reconcile(live, now - 60s, [&](PresenceChanges answer) { changes = std::move(answer); });
  EXPECT_TRUE(changes.offline.empty());
  ASSERT_EQ(changes.online.size(), 1U);
  EXPECT_EQ(changes.online[0].user, "3");
  EXPECT_EQ(changes.settled, (std::vector<std::string>{"live", "unrecorded"}));
  EXPECT_TRUE(is_online(presence, "/admin", "1"));

  presence.reconcile(live, std::chrono::system_clock::now() + 1s,
                     [&](PresenceChanges answer) { changes = std::move(answer); });
  EXPECT_TRUE(changes.online.empty());
  ASSERT_EQ(changes.offline.size(), 1U);
  EXPECT_EQ(changes.offline[0].nsp, "/admin");
  EXPECT_EQ(changes.offline[0].user, "1");
  EXPECT_FALSE(is_online(presence, "/admin", "1"));
  EXPECT_TRUE(is_online(presence, "/admin", "2"));
  EXPECT_TRUE(is_online(presence, "/admin", "3"));
  EXPECT_EQ(connection_count(presence, "/admin"), 2U);
}

TEST(MemoryPresence, ReconcileDoesNotFlapAUserWithAStaleAndALiveConnection) {
  MemoryPresence presence;
  add(presence, "/admin", "1", "stale");
  std::vector<LiveConnection> live{{"/admin", "1", "unrecorded", std::chrono::system_clock::now(), "name1", false}};
  PresenceChanges changes;
  presence.reconcile(live, std::chrono::system_clock::now() + 1s,
                     [&](PresenceChanges answer) { changes = std::move(answer); });
  EXPECT_TRUE(changes.online.empty());
  EXPECT_TRUE(changes.offline.empty());
  EXPECT_EQ(connection_count(presence, "/admin"), 1U);
}

TEST(MemoryRateLimiter, CountsOnlyAllowedEventsPerWindow) {
  MemoryRateLimiter limiter;
  RateLimit rule{2, 60};
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(limiter.allow_at("k", rule, start));
  EXPECT_TRUE(limiter.allow_at("k", rule, start + 1s));
  EXPECT_FALSE(limiter.allow_at("k", rule, start + 2s));
  EXPECT_FALSE(limiter.allow_at("k", rule, start + 3s));
  EXPECT_TRUE(limiter.allow_at("other", rule, start + 3s));
  EXPECT_TRUE(limiter.allow_at("k", rule, start + 61s));
}

TEST(MemoryRateLimiter, PruneForgetsEndedWindows) {
  MemoryRateLimiter limiter;
  RateLimit rule{1, 10};
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(limiter.allow_at("k", rule, start));
  limiter.prune_at(start + 5s);
  EXPECT_FALSE(limiter.allow_at("k", rule, start + 6s));
  limiter.prune_at(start + 11s);
  EXPECT_TRUE(limiter.allow_at("k", rule, start + 11s));
}

TEST(MemoryRateLimiter, AnswersInsideTheCall) {
  MemoryRateLimiter limiter;
  std::optional<bool> allowed;
  limiter.allow("k", RateLimit{0, 60}, [&](bool answer) { allowed = answer; });
  ASSERT_TRUE(allowed);
  EXPECT_FALSE(*allowed);
}

}  // namespace
}  // namespace iogate::app
