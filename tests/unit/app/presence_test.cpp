#include "app/presence/presence.h"

#include <gtest/gtest.h>

#include "app/ratelimit/rate_limiter.h"

namespace iogate::app {
namespace {

using namespace std::chrono_literals;

TEST(MemoryPresence, FirstAndLastConnectionOfAUser) {
  MemoryPresence presence;
  std::optional<std::string> evicted;
  EXPECT_EQ(presence.add("/admin", "1", "a", 5, false, evicted), PresenceStore::AddResult::first_connection);
  EXPECT_EQ(presence.add("/admin", "1", "b", 5, false, evicted), PresenceStore::AddResult::added);
  EXPECT_EQ(presence.add("/web", "1", "c", 5, false, evicted), PresenceStore::AddResult::first_connection);
  EXPECT_TRUE(presence.is_online("/admin", "1"));
  EXPECT_EQ(presence.online_count("/admin"), 1U);
  EXPECT_EQ(presence.connection_count("/admin"), 2U);
  EXPECT_FALSE(presence.remove("/admin", "1", "a"));
  EXPECT_TRUE(presence.remove("/admin", "1", "b"));
  EXPECT_FALSE(presence.is_online("/admin", "1"));
  EXPECT_TRUE(presence.is_online("/web", "1"));
  EXPECT_FALSE(presence.remove("/admin", "1", "b"));
  EXPECT_EQ(presence.connection_count("/admin"), 0U);
}

TEST(MemoryPresence, RefusesOrEvictsAtTheLimit) {
  MemoryPresence presence;
  std::optional<std::string> evicted;
  presence.add("/admin", "1", "a", 2, false, evicted);
  presence.add("/admin", "1", "b", 2, false, evicted);
  EXPECT_EQ(presence.add("/admin", "1", "c", 2, false, evicted), PresenceStore::AddResult::refused);
  EXPECT_FALSE(evicted);
  EXPECT_EQ(presence.add("/admin", "1", "c", 2, true, evicted), PresenceStore::AddResult::added);
  ASSERT_TRUE(evicted);
  EXPECT_EQ(*evicted, "a");
  auto connections = presence.connections("/admin", "1");
  ASSERT_EQ(connections.size(), 2U);
  EXPECT_EQ(connections[0].socket_id, "b");
  EXPECT_EQ(connections[1].socket_id, "c");
  EXPECT_EQ(presence.connection_count("/admin"), 2U);
}

TEST(MemoryPresence, RemovesStaleRecordsOnlyWhenOldAndNotLive) {
  MemoryPresence presence;
  std::optional<std::string> evicted;
  presence.add("/admin", "1", "gone", 0, false, evicted);
  presence.add("/admin", "2", "live", 0, false, evicted);
  // Fresh records survive however they look: a connection may still be completing.
  EXPECT_TRUE(presence.remove_stale("/admin", {"live"}, 60s).empty());
  auto gone = presence.remove_stale("/admin", {"live"}, 0s);
  ASSERT_EQ(gone.size(), 1U);
  EXPECT_EQ(gone[0], "1");
  EXPECT_FALSE(presence.is_online("/admin", "1"));
  EXPECT_TRUE(presence.is_online("/admin", "2"));
  EXPECT_EQ(presence.connection_count("/admin"), 1U);
}

TEST(RateLimiter, CountsOnlyAllowedEventsPerWindow) {
  RateLimiter limiter;
  RateLimit rule{2, 60};
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(limiter.allow("k", rule, start));
  EXPECT_TRUE(limiter.allow("k", rule, start + 1s));
  EXPECT_FALSE(limiter.allow("k", rule, start + 2s));
  EXPECT_FALSE(limiter.allow("k", rule, start + 3s));
  EXPECT_TRUE(limiter.allow("other", rule, start + 3s));
  EXPECT_TRUE(limiter.allow("k", rule, start + 61s));
}

TEST(RateLimiter, PruneForgetsEndedWindows) {
  RateLimiter limiter;
  RateLimit rule{1, 10};
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(limiter.allow("k", rule, start));
  limiter.prune(start + 5s);
  EXPECT_FALSE(limiter.allow("k", rule, start + 6s));
  limiter.prune(start + 11s);
  EXPECT_TRUE(limiter.allow("k", rule, start + 11s));
}

}  // namespace
}  // namespace iogate::app
