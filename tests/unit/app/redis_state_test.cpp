// RedisPresence and RedisRateLimiter against a real redis-server that each test starts on a free
// 127.0.0.1 port and kills at the end. Each "node" is a RedisLink with its own connection, all on
// one io_context that the test thread runs in short slices with a deadline, so nothing waits
// forever. A missing redis-server fails the tests: CI has it.
#include <gtest/gtest.h>


#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "app/presence/redis_presence.h"
#include "app/ratelimit/redis_rate_limiter.h"
#include "app/redis/redis_link.h"
#include "redis_server.h"

namespace iogate::app {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using AddResult = PresenceStore::AddResult;

using test_support::free_tcp_port;
using test_support::RedisServer;
using test_support::run_until;

void run_for(asio::io_context& io, std::chrono::milliseconds duration) {
  run_until(io, [] { return false; }, duration);
}

// One iogate node's Redis state: its link, presence and rate limiter.
struct Node {
  Node(asio::io_context& io, std::uint16_t port, std::chrono::milliseconds command_timeout = 2000ms)
      : link(io, endpoint(port), command_timeout),
        presence(link, options()),
        limiter(link, "t") {
    presence.on_users_gone([this](std::vector<PresenceUser> users) {
      gone.insert(gone.end(), users.begin(), users.end());
    });
    presence.on_resync_needed([this] { ++resyncs; });
    link.on_state([this](bool up) { connected = up; });
    link.start();
  }

  static redis::Endpoint endpoint(std::uint16_t port) {
    redis::Endpoint e;
    e.host = "127.0.0.1";
    e.port = port;
    return e;
  }
  static RedisPresenceOptions options() {
    RedisPresenceOptions o;
    o.prefix = "t";
    o.heartbeat_interval = 100ms;
    o.heartbeat_ttl = 300ms;
    return o;
  }

  RedisLink link;
  RedisPresence presence;
  RedisRateLimiter limiter;
  std::vector<PresenceUser> gone;
  int resyncs = 0;
  bool connected = false;
};

class RedisStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/iogate-app-redis-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    port_ = free_tcp_port();
    server_.emplace(dir_, port_);
    std::string error = server_->start();
    ASSERT_TRUE(error.empty()) << error;
  }
  void TearDown() override {
    server_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<Node> node(std::chrono::milliseconds command_timeout = 2000ms) {
    auto created = std::make_unique<Node>(io_, port_, command_timeout);
    EXPECT_TRUE(run_until(io_, [&] { return created->connected; })) << "no Redis link";
    return created;
  }

  // The username each test user connects with.
  static std::string username(const std::string& user) { return "name-" + user; }

  PresenceStore::Added add(Node& n, const std::string& user, const std::string& sid, std::size_t limit = 0,
                           bool evict = false, const std::string& nsp = "/admin") {
    std::optional<PresenceStore::Added> added;
    n.presence.add(nsp, user, username(user), sid, limit, evict, [&](PresenceStore::Added answer) { added = answer; });
    EXPECT_TRUE(run_until(io_, [&] { return added.has_value(); })) << "add did not answer";
    return added.value_or(PresenceStore::Added{});
  }
  bool remove(Node& n, const std::string& user, const std::string& sid, const std::string& nsp = "/admin") {
    std::optional<bool> last;
    n.presence.remove(nsp, user, sid, [&](bool answer) { last = answer; });
    EXPECT_TRUE(run_until(io_, [&] { return last.has_value(); })) << "remove did not answer";
    return last.value_or(false);
  }
  std::optional<bool> is_online(Node& n, const std::string& user, const std::string& nsp = "/admin") {
    std::optional<std::optional<bool>> online;
    n.presence.is_online(nsp, user, [&](std::optional<bool> answer) { online = answer; });
    EXPECT_TRUE(run_until(io_, [&] { return online.has_value(); }));
    return online.value_or(std::nullopt);
  }
  std::vector<std::string> connection_ids(Node& n, const std::string& user, const std::string& nsp = "/admin") {
    std::optional<std::optional<std::vector<Connection>>> found;
    n.presence.connections(nsp, user, [&](auto answer) { found = std::move(answer); });
    EXPECT_TRUE(run_until(io_, [&] { return found.has_value(); }));
    std::vector<std::string> ids;
    if (found && *found) {
      for (const auto& c : **found) ids.push_back(c.socket_id);
    }
    return ids;
  }
  std::optional<std::size_t> connection_count(Node& n, const std::string& nsp = "/admin") {
    std::optional<std::optional<std::size_t>> count;
    n.presence.connection_count(nsp, [&](std::optional<std::size_t> answer) { count = answer; });
    EXPECT_TRUE(run_until(io_, [&] { return count.has_value(); }));
    return count.value_or(std::nullopt);
  }
  std::optional<std::vector<std::string>> online_users(Node& n, const std::string& nsp = "/admin") {
    std::optional<std::optional<std::vector<std::string>>> users;
    n.presence.online_users(nsp, [&](auto answer) { users = std::move(answer); });
    EXPECT_TRUE(run_until(io_, [&] { return users.has_value(); }));
    return users.value_or(std::nullopt);
  }
  redis::Reply command(Node& n, std::vector<std::string> args) {
    std::optional<redis::Reply> reply;
    n.link.command(std::move(args), [&](redis::Reply answer) { reply = std::move(answer); });
    EXPECT_TRUE(run_until(io_, [&] { return reply.has_value(); }));
    return reply.value_or(redis::Reply::make_io_error("no reply"));
  }
  std::vector<std::string> members(Node& n, const std::string& key) {
    std::vector<std::string> out;
    for (auto& element : command(n, {"SMEMBERS", key}).elements) out.push_back(element.str);
    std::sort(out.begin(), out.end());
    return out;
  }
  PresenceChanges reconcile(Node& n, std::vector<LiveConnection> live,
                            std::chrono::system_clock::time_point cutoff = std::chrono::system_clock::time_point::min()) {
    std::optional<PresenceChanges> changes;
    n.presence.reconcile(std::move(live), cutoff, [&](PresenceChanges answer) { changes = std::move(answer); });
    EXPECT_TRUE(run_until(io_, [&] { return changes.has_value(); })) << "reconcile did not answer";
    return changes.value_or(PresenceChanges{});
  }
  // A live connection as the gateway reports it; `announced`: its user was announced online.
  static LiveConnection connection(const std::string& user, const std::string& sid, bool announced,
                                   const std::string& nsp = "/admin") {
    return LiveConnection{nsp, user, sid, std::chrono::system_clock::now(), username(user), announced};
  }
  static std::vector<std::string> users_of(const std::vector<PresenceUser>& users) {
    std::vector<std::string> out;
    for (const auto& user : users) out.push_back(user.user);
    std::sort(out.begin(), out.end());
    return out;
  }
  // Kills Redis and starts it again, empty, on the same port; waits until `nodes` are back.
  void restart_redis(std::vector<Node*> nodes) {
    server_->kill_now();
    ASSERT_TRUE(run_until(io_, [&] {
      return std::none_of(nodes.begin(), nodes.end(), [](Node* n) { return n->connected; });
    }));
    ASSERT_TRUE(server_->start().empty());
    ASSERT_TRUE(run_until(io_, [&] {
      return std::all_of(nodes.begin(), nodes.end(), [](Node* n) { return n->connected; });
    }, 10000ms));
  }

  bool allow(Node& n, const std::string& key, RateLimit rule) {
    std::optional<bool> allowed;
    n.limiter.allow(key, rule, [&](bool answer) { allowed = answer; });
    EXPECT_TRUE(run_until(io_, [&] { return allowed.has_value(); })) << "rate limiter did not answer";
    return allowed.value_or(false);
  }

  asio::io_context io_;
  std::string dir_;
  std::uint16_t port_ = 0;
  std::optional<RedisServer> server_;
};

TEST_F(RedisStateTest, ConnectionCapRefusesAcrossNodes) {
  auto a = node();
  auto b = node();
  EXPECT_EQ(add(*a, "1", "a1", 3).result, AddResult::first_connection);
  EXPECT_EQ(add(*a, "1", "a2", 3).result, AddResult::added);
  EXPECT_EQ(add(*b, "1", "b1", 3).result, AddResult::added);
  auto refused = add(*b, "1", "b2", 3);
  EXPECT_EQ(refused.result, AddResult::refused);
  EXPECT_FALSE(refused.evicted);
  EXPECT_EQ(add(*a, "1", "a3", 3).result, AddResult::refused);
  EXPECT_EQ(connection_ids(*b, "1"), (std::vector<std::string>{"a1", "a2", "b1"}));
  EXPECT_EQ(connection_count(*a), 3U);
  // Another user and another namespace have their own budgets.
  EXPECT_EQ(add(*b, "2", "b3", 3).result, AddResult::first_connection);
  EXPECT_EQ(add(*b, "1", "b4", 3, false, "/web").result, AddResult::first_connection);
  EXPECT_EQ(online_users(*a), (std::vector<std::string>{"1", "2"}));
}

TEST_F(RedisStateTest, EvictsTheOldestAcrossNodesAndKeepsTheGuidesKeysInStep) {
  auto a = node();
  auto b = node();
  add(*a, "1", "a1", 2, true);
  run_for(io_, 5ms);  // distinct "since" milliseconds
  add(*b, "1", "b1", 2, true);
  run_for(io_, 5ms);
  auto replacing = add(*b, "1", "b2", 2, true);
  EXPECT_EQ(replacing.result, AddResult::added);
  ASSERT_TRUE(replacing.evicted);
  EXPECT_EQ(*replacing.evicted, "a1");
  EXPECT_EQ(connection_ids(*a, "1"), (std::vector<std::string>{"b1", "b2"}));
  EXPECT_EQ(connection_count(*a), 2U);
  // The evicted socket's own disconnect later finds nothing: not the last, no announcement.
  EXPECT_FALSE(remove(*a, "1", "a1"));

  EXPECT_EQ(members(*a, "socket:connections:admin:1"), (std::vector<std::string>{"b1", "b2"}));
  EXPECT_EQ(command(*a, {"GET", "socket:user:b2"}).str, R"({"userId":1,"namespace":"admin"})");
  EXPECT_EQ(command(*a, {"EXISTS", "socket:user:a1"}).integer, 0);
  EXPECT_EQ(command(*a, {"HLEN", "t:node:" + a->presence.node_id() + ":sockets"}).integer, 0);

  // A string id: the guide's key has its text, the record its JSON.
  add(*a, "\"ann\"", "s1");
  EXPECT_EQ(members(*a, "socket:connections:admin:ann"), std::vector<std::string>{"s1"});
  EXPECT_EQ(command(*a, {"GET", "socket:user:s1"}).str, R"({"userId":"ann","namespace":"admin"})");
  EXPECT_TRUE(remove(*b, "\"ann\"", "s1"));
  EXPECT_EQ(command(*a, {"EXISTS", "socket:connections:admin:ann", "socket:user:s1"}).integer, 0);
}

TEST_F(RedisStateTest, FirstAndLastConnectionFlipOnceUnderConcurrentAddsAndRemoves) {
  auto a = node();
  auto b = node();
  constexpr int kUsers = 20;
  constexpr int kSocketsPerNode = 3;
  std::map<std::string, int> firsts;
  std::map<std::string, int> lasts;
  std::size_t answers = 0;
  std::size_t expected = 0;
  // Every add of both nodes is sent before any reply is read: the two links race in Redis.
  for (int s = 0; s < kSocketsPerNode; ++s) {
    for (int u = 0; u < kUsers; ++u) {
      for (auto* n : {a.get(), b.get()}) {
        std::string user = std::to_string(u);
        std::string sid(n == a.get() ? "a" : "b");
        sid += std::to_string(u) + "-" + std::to_string(s);
        ++expected;
        n->presence.add("/admin", user, username(user), sid, 0, false, [&, user](PresenceStore::Added added) {
          ++answers;
          if (added.result == AddResult::first_connection) ++firsts[user];
        });
      }
    }
  }
  ASSERT_TRUE(run_until(io_, [&] { return answers == expected; }));
  for (int u = 0; u < kUsers; ++u) EXPECT_EQ(firsts[std::to_string(u)], 1) << "user " << u;
  EXPECT_EQ(connection_count(*a), std::size_t{kUsers * kSocketsPerNode * 2});

  // Removes from both nodes race while new connections of odd users arrive.
  answers = 0;
  expected = 0;
  std::map<std::string, int> late_firsts;
  for (int s = 0; s < kSocketsPerNode; ++s) {
    for (int u = 0; u < kUsers; ++u) {
      for (auto* n : {a.get(), b.get()}) {
        std::string user = std::to_string(u);
        std::string sid(n == a.get() ? "a" : "b");
        sid += std::to_string(u) + "-" + std::to_string(s);
        ++expected;
        n->presence.remove("/admin", user, sid, [&, user](bool last) {
          ++answers;
          if (last) ++lasts[user];
        });
      }
      if (u % 2 == 1 && s == kSocketsPerNode - 1) {
        std::string user = std::to_string(u);
        ++expected;
        b->presence.add("/admin", user, username(user), "late" + user, 0, false, [&, user](PresenceStore::Added added) {
          ++answers;
          if (added.result == AddResult::first_connection) ++late_firsts[user];
        });
      }
    }
  }
  ASSERT_TRUE(run_until(io_, [&] { return answers == expected; }));
  for (int u = 0; u < kUsers; ++u) {
    std::string user = std::to_string(u);
    bool online_now = is_online(*a, user).value_or(true);
    // Each flip went to exactly one caller: offline flips minus online flips is the change.
    EXPECT_EQ(lasts[user] - late_firsts[user], online_now ? 0 : 1) << "user " << u;
    EXPECT_LE(lasts[user], 1) << "user " << u;
    EXPECT_EQ(online_now, u % 2 == 1) << "user " << u;
  }
  EXPECT_EQ(connection_count(*a), std::size_t{kUsers / 2});
}

TEST_F(RedisStateTest, SweepsAStoppedNodesUsersOnceWithinAHeartbeatTimeout) {
  auto a = node();
  auto b = node();
  auto c = node();
  add(*a, "1", "a1");
  add(*a, "1", "a2");
  add(*a, "2", "a3");
  add(*b, "2", "b1");
  std::string a_id = a->presence.node_id();
  a.reset();  // stops without removing anything, as a crashed node

  auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(io_, [&] { return b->gone.size() + c->gone.size() >= 1; }, 3000ms));
  // The TTL (300 ms) plus a sweep period (100 ms) and a round trip, with room for a busy machine.
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 2000ms);
  run_for(io_, 500ms);  // more sweeps by both, which must find nothing more to report
  std::vector<PresenceUser> reported = b->gone;
  reported.insert(reported.end(), c->gone.begin(), c->gone.end());
  ASSERT_EQ(reported.size(), 1U);
  EXPECT_EQ(reported[0].nsp, "/admin");
  EXPECT_EQ(reported[0].user, "1");
  EXPECT_EQ(reported[0].username, "name-1");  // as the add stored it, for the user:offline
  EXPECT_EQ(command(*b, {"HEXISTS", "t:presence:/admin:names", "1"}).integer, 0);
  EXPECT_EQ(command(*b, {"HGET", "t:presence:/admin:names", "2"}).str, "name-2");

  EXPECT_EQ(is_online(*b, "1"), false);
  EXPECT_EQ(connection_ids(*b, "2"), std::vector<std::string>{"b1"});
  EXPECT_EQ(connection_count(*b), 1U);
  EXPECT_EQ(online_users(*b), std::vector<std::string>{"2"});
  EXPECT_EQ(command(*b, {"EXISTS", "socket:user:a1", "socket:user:a3", "socket:connections:admin:1",
                         "t:node:" + a_id + ":sockets"})
                .integer,
            0);
  EXPECT_EQ(members(*b, "socket:connections:admin:2"), std::vector<std::string>{"b1"});
  auto nodes = members(*b, "t:nodes");
  EXPECT_EQ(std::count(nodes.begin(), nodes.end(), a_id), 0);
}

TEST_F(RedisStateTest, KeepsTheUsernameWhileTheUserHasAConnection) {
  auto a = node();
  auto b = node();
  add(*a, "1", "a1");
  std::optional<PresenceStore::Added> added;
  b->presence.add("/admin", "1", "renamed", "b1", 0, false, [&](PresenceStore::Added answer) { added = answer; });
  ASSERT_TRUE(run_until(io_, [&] { return added.has_value(); }));
  EXPECT_EQ(command(*a, {"HGET", "t:presence:/admin:names", "1"}).str, "renamed");  // the latest add's
  EXPECT_FALSE(remove(*a, "1", "a1"));
  EXPECT_EQ(command(*a, {"HGET", "t:presence:/admin:names", "1"}).str, "renamed");
  EXPECT_TRUE(remove(*b, "1", "b1"));
  EXPECT_EQ(command(*a, {"EXISTS", "t:presence:/admin:names"}).integer, 0);

  // A stale record that reconcile() forgets reports its user with the name.
  add(*a, "2", "a2");
  auto changes = reconcile(*a, {}, std::chrono::system_clock::now() + 1s);
  ASSERT_EQ(changes.offline.size(), 1U);
  EXPECT_EQ(changes.offline[0].user, "2");
  EXPECT_EQ(changes.offline[0].username, "name-2");
}

TEST_F(RedisStateTest, ResyncsThisNodesConnectionsWhenRedisComesBackEmpty) {
  auto a = node();
  EXPECT_EQ(add(*a, "1", "a1").result, AddResult::first_connection);
  ASSERT_TRUE(run_until(io_, [&] { return a->resyncs == 1; }));
  // The gateway answers each resync with a reconcile: this one finds everything recorded.
  auto changes = reconcile(*a, {connection("1", "a1", true)});
  EXPECT_TRUE(changes.online.empty() && changes.offline.empty());
  EXPECT_EQ(changes.settled, std::vector<std::string>{"a1"});

  server_->kill_now();
  ASSERT_TRUE(run_until(io_, [&] { return !a->connected; }));
  // Away: connections are accepted unrecorded, removals are not "last".
  EXPECT_EQ(add(*a, "2", "a2").result, AddResult::unrecorded);
  EXPECT_EQ(add(*a, "3", "a3").result, AddResult::unrecorded);
  EXPECT_FALSE(remove(*a, "3", "a3"));

  ASSERT_TRUE(server_->start().empty());
  ASSERT_TRUE(run_until(io_, [&] { return a->connected && a->resyncs == 2; }, 10000ms));
  EXPECT_EQ(is_online(*a, "1"), false);  // a fresh Redis knows nobody

  // What the gateway answers the resync with: this node's live connections. User 1 was announced
  // online before Redis went and never offline: back silently. User 2 was never announced.
  std::vector<LiveConnection> live{connection("1", "a1", true), connection("2", "a2", false)};
  changes = reconcile(*a, live, std::chrono::system_clock::now() - 10s);
  EXPECT_EQ(users_of(changes.online), std::vector<std::string>{"2"});
  EXPECT_TRUE(changes.offline.empty());
  std::sort(changes.settled.begin(), changes.settled.end());
  EXPECT_EQ(changes.settled, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(online_users(*a), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(connection_count(*a), 2U);
  EXPECT_EQ(command(*a, {"HGET", "t:presence:/admin:names", "1"}).str, "name-1");
  EXPECT_EQ(members(*a, "socket:connections:admin:1"), std::vector<std::string>{"a1"});

  // a1 went away meanwhile: the next reconcile drops its old record and reports the user.
  live.erase(live.begin());
  changes = reconcile(*a, live, std::chrono::system_clock::now() + 1s);
  EXPECT_TRUE(changes.online.empty());
  ASSERT_EQ(changes.offline.size(), 1U);
  EXPECT_EQ(changes.offline[0].user, "1");
  EXPECT_EQ(changes.offline[0].username, "name-1");
  EXPECT_EQ(online_users(*a), std::vector<std::string>{"2"});
}

TEST_F(RedisStateTest, AfterARestartAUserAnnouncedOfflineElsewhereIsAnnouncedOnlineAgainByTheRestore) {
  auto a = node();
  auto b = node();
  add(*a, "1", "a1");
  add(*b, "1", "b1");
  add(*a, "2", "a2");
  reconcile(*a, {connection("1", "a1", true), connection("2", "a2", true)});
  reconcile(*b, {connection("1", "b1", true)});

  restart_redis({a.get(), b.get()});
  // B brings its connection back first, then it closes: user 1's last one as far as Redis knows,
  // so B announces 1 offline.
  auto changes = reconcile(*b, {connection("1", "b1", true)});
  EXPECT_TRUE(changes.online.empty());
  EXPECT_TRUE(remove(*b, "1", "b1"));
  // A's connection of 1, announced before the restart, now brings 1 back online: announced again.
  // Its connection of 2 comes back silently.
  changes = reconcile(*a, {connection("1", "a1", true), connection("2", "a2", true)});
  EXPECT_EQ(users_of(changes.online), std::vector<std::string>{"1"});
  EXPECT_EQ(online_users(*a), (std::vector<std::string>{"1", "2"}));
}

TEST_F(RedisStateTest, InTheSameEpochAMissingRecordIsNewEvenIfAnnounced) {
  auto a = node();
  auto b = node();
  add(*a, "1", "a1");
  add(*a, "2", "a2");
  reconcile(*a, {connection("1", "a1", true), connection("2", "a2", true)});
  // Someone removed A's record of a1, the last of user 1 (as a sweep does when it takes A for
  // stopped), and announced 1 offline: A's reconcile announces it online again.
  EXPECT_TRUE(remove(*b, "1", "a1"));
  auto changes = reconcile(*a, {connection("1", "a1", true), connection("2", "a2", true)});
  EXPECT_EQ(users_of(changes.online), std::vector<std::string>{"1"});
  EXPECT_EQ(online_users(*a), (std::vector<std::string>{"1", "2"}));
}

TEST_F(RedisStateTest, ScriptsComeBackAfterTheScriptCacheIsFlushed) {
  auto a = node();
  add(*a, "1", "a1");
  EXPECT_EQ(command(*a, {"SCRIPT", "FLUSH"}).str, "OK");
  EXPECT_EQ(add(*a, "1", "a2").result, AddResult::added);
  EXPECT_TRUE(allow(*a, "k", RateLimit{1, 60}));
  EXPECT_FALSE(allow(*a, "k", RateLimit{1, 60}));
}

TEST_F(RedisStateTest, RateLimitIsSharedByTwoNodes) {
  auto a = node();
  auto b = node();
  RateLimit rule{3, 1};
  EXPECT_TRUE(allow(*a, "/admin\n1\nping", rule));
  EXPECT_TRUE(allow(*b, "/admin\n1\nping", rule));
  EXPECT_TRUE(allow(*a, "/admin\n1\nping", rule));
  EXPECT_FALSE(allow(*b, "/admin\n1\nping", rule));
  EXPECT_FALSE(allow(*a, "/admin\n1\nping", rule));
  EXPECT_TRUE(allow(*b, "/admin\n2\nping", rule));
  // Refused events do not count, and the window ends with its key.
  run_for(io_, 1100ms);
  EXPECT_TRUE(allow(*b, "/admin\n1\nping", rule));

  // Racing at the limit: exactly `limit` of the events sent at once pass.
  int allowed = 0;
  int answers = 0;
  for (int i = 0; i < 20; ++i) {
    for (auto* n : {a.get(), b.get()}) {
      n->limiter.allow("race", RateLimit{7, 60}, [&](bool ok) {
        ++answers;
        allowed += ok ? 1 : 0;
      });
    }
  }
  ASSERT_TRUE(run_until(io_, [&] { return answers == 40; }));
  EXPECT_EQ(allowed, 7);
}

TEST_F(RedisStateTest, RedisAwayFailsOpenAtOnce) {
  server_->kill_now();
  auto a = std::make_unique<Node>(io_, port_);  // never connects
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(add(*a, "1", "a1", 1).result, AddResult::unrecorded);
  EXPECT_FALSE(remove(*a, "1", "a1"));
  EXPECT_FALSE(is_online(*a, "1").has_value());
  EXPECT_FALSE(online_users(*a).has_value());
  EXPECT_FALSE(connection_count(*a).has_value());
  EXPECT_TRUE(allow(*a, "k", RateLimit{0, 60}));
  std::optional<PresenceChanges> changes;
  a->presence.reconcile({connection("1", "a1", false)}, std::chrono::system_clock::now(),
                        [&](PresenceChanges answer) { changes = std::move(answer); });
  ASSERT_TRUE(run_until(io_, [&] { return changes.has_value(); }));
  EXPECT_TRUE(changes->online.empty() && changes->offline.empty() && changes->settled.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1000ms);  // no command waited for a timeout
}

TEST_F(RedisStateTest, StalledRedisFailsOpenAfterTheCommandTimeout) {
  auto a = node(300ms);
  EXPECT_EQ(add(*a, "1", "a1").result, AddResult::first_connection);
  server_->pause();
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(add(*a, "1", "a2", 1).result, AddResult::unrecorded);
  EXPECT_TRUE(allow(*a, "k", RateLimit{0, 60}));
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 3000ms);
  server_->resume();
  // The late replies are dropped and the link goes on; Redis ran the stalled add when it woke
  // (and refused it: the cap is 1).
  EXPECT_EQ(add(*a, "1", "a3").result, AddResult::added);
  EXPECT_EQ(connection_ids(*a, "1"), (std::vector<std::string>{"a1", "a3"}));
}

}  // namespace
}  // namespace iogate::app
