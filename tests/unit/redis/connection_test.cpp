// redis::Connection against a real redis-server that each test starts on its own unix socket (one
// test also on TCP) and kills at the end (tests/support/redis_server.h).
#include <gtest/gtest.h>


#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "redis/connection.h"
#include "redis_server.h"

namespace iogate::redis {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

using test_support::free_tcp_port;
using test_support::RedisServer;
using test_support::run_until;

std::optional<Reply> call(asio::io_context& io, Connection& c, std::vector<std::string> args) {
  std::optional<Reply> out;
  c.command(std::move(args), [&](Reply r) { out = std::move(r); });
  if (!run_until(io, [&] { return out.has_value(); })) return std::nullopt;
  return out;
}

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s;
}

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/iogate-redis-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    server_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Starts the fixture's server; fails the test (not skips) when redis-server is missing.
  void start_server(std::vector<std::string> extra = {}, std::uint16_t port = 0) {
    server_.emplace(dir_, port, std::move(extra));
    std::string error = server_->start();
    ASSERT_TRUE(error.empty()) << error;
  }

  Endpoint unix_endpoint(std::string password = {}, int db = 0) const {
    Endpoint e;
    e.kind = Endpoint::Kind::unix_socket;
    e.path = server_->socket_path();
    e.password = std::move(password);
    e.db = db;
    return e;
  }

  bool wait_connected(Connection& c) {
    return run_until(io_, [&] { return c.connected(); });
  }

  // Polls PUBSUB <sub> <name> until the server counts `want` subscribers.
  bool wait_subscribers(Connection& c, const std::string& sub, const std::string& name, long long want) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<std::string> args = {"PUBSUB", sub};
      if (!name.empty()) args.push_back(name);
      auto r = call(io_, c, args);
      if (r && r->type == Reply::Type::integer && r->integer == want) return true;
      if (r && r->type == Reply::Type::array && r->elements.size() == 2 && r->elements[1].integer == want)
        return true;
      run_until(io_, [] { return false; }, 10ms);
    }
    return false;
  }

  asio::io_context io_;
  std::string dir_;
  std::optional<RedisServer> server_;
};

TEST(RedisUrl, ParsesGoodUrls) {
  std::string error;
  auto e = parse_url("redis://localhost:6380/2", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->kind, Endpoint::Kind::tcp);
  EXPECT_EQ(e->host, "localhost");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->db, 2);
  EXPECT_TRUE(e->password.empty());

  e = parse_url("redis://10.0.0.5");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "10.0.0.5");
  EXPECT_EQ(e->port, 6379);
  EXPECT_EQ(e->db, 0);

  e = parse_url("redis://alice:p%40ss%3Aw@redis.internal:7000/");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->user, "alice");
  EXPECT_EQ(e->password, "p@ss:w");
  EXPECT_EQ(e->host, "redis.internal");
  EXPECT_EQ(e->port, 7000);
  EXPECT_EQ(e->db, 0);

  e = parse_url("redis://:secret@[::1]:6379/15");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->user, "");
  EXPECT_EQ(e->password, "secret");
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->db, 15);

  e = parse_url("unix:///var/run/redis/redis.sock", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->kind, Endpoint::Kind::unix_socket);
  EXPECT_EQ(e->path, "/var/run/redis/redis.sock");

  e = parse_url("unix://:pw@/tmp/r.sock?db=3", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->path, "/tmp/r.sock");
  EXPECT_EQ(e->password, "pw");
  EXPECT_EQ(e->db, 3);
}

TEST(RedisUrl, RejectsBadUrls) {
  for (const char* url : {"", "localhost:6379", "http://localhost:6379", "redis://", "redis://:6379",
                          "redis://host:", "redis://host:0", "redis://host:65536", "redis://host:12ab",
                          "redis://host/x", "redis://host/-1", "redis://host/1/2", "redis://justuser@host",
                          "redis://user:@host", "redis://[::1", "redis://[::1]x", "redis://u:p%zz@host",
                          "unix://", "unix:///", "unix://relative/path", "unix:///tmp/r.sock?db=x",
                          "unix:///tmp/r.sock?foo=1", "unix://nocolon@/tmp/r.sock"}) {
    std::string error;
    EXPECT_FALSE(parse_url(url, &error)) << url;
    EXPECT_FALSE(error.empty()) << url;
  }
}

TEST_F(RedisTest, SetGetRoundTripsBinaryBytes) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  Connection c(io_, unix_endpoint());
  c.connect();
  ASSERT_TRUE(wait_connected(c)) << c.last_error();

  std::string key("k\0ey\r\n", 6);
  std::string value = all_bytes() + std::string("\0tail", 5);
  auto set = call(io_, c, {"SET", key, value});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->type, Reply::Type::status);
  EXPECT_EQ(set->str, "OK");

  auto get = call(io_, c, {"GET", key});
  ASSERT_TRUE(get);
  ASSERT_EQ(get->type, Reply::Type::string);
  EXPECT_EQ(get->str, value);

  auto missing = call(io_, c, {"GET", "nope"});
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->type, Reply::Type::nil);

  auto bad = call(io_, c, {"NOSUCHCOMMAND"});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->type, Reply::Type::error);
  EXPECT_TRUE(bad->is_error());

  auto list = call(io_, c, {"MGET", key, "nope"});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->type, Reply::Type::array);
  ASSERT_EQ(list->elements.size(), 2u);
  EXPECT_EQ(list->elements[0].str, value);
  EXPECT_EQ(list->elements[1].type, Reply::Type::nil);
}

TEST_F(RedisTest, WorksOverTcp) {
  std::uint16_t port = free_tcp_port();
  ASSERT_NE(port, 0);
  auto endpoint = parse_url("redis://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(endpoint);
  Connection c(io_, *endpoint);
  // Nobody listens yet: the non-blocking connect fails later, on the socket, and is retried.
  c.connect();
  run_until(io_, [] { return false; }, 300ms);
  EXPECT_FALSE(c.connected());
  EXPECT_FALSE(c.last_error().empty());
  ASSERT_NO_FATAL_FAILURE(start_server({}, port));
  ASSERT_TRUE(wait_connected(c)) << c.last_error();
  auto set = call(io_, c, {"SET", "k", std::string("a\0b", 3)});
  ASSERT_TRUE(set);
  auto get = call(io_, c, {"GET", "k"});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->str, std::string("a\0b", 3));
}

TEST_F(RedisTest, PipelinedCommandsAnswerInOrder) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  Connection c(io_, unix_endpoint());
  c.connect();
  // Issued before the link is up: they queue behind the handshake.
  constexpr int kCount = 2000;
  std::vector<long long> lengths;
  for (int i = 0; i < kCount; ++i)
    c.command({"RPUSH", "list", std::to_string(i)}, [&](Reply r) {
      lengths.push_back(r.type == Reply::Type::integer ? r.integer : -1);
    });
  ASSERT_TRUE(run_until(io_, [&] { return lengths.size() == kCount; })) << lengths.size();
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(lengths[i], i + 1);
  auto range = call(io_, c, {"LRANGE", "list", "0", "-1"});
  ASSERT_TRUE(range);
  ASSERT_EQ(range->elements.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(range->elements[i].str, std::to_string(i));
}

TEST_F(RedisTest, PublishReachesSubscribePsubscribeAndSsubscribe) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  Connection pub(io_, unix_endpoint());
  Connection sub(io_, unix_endpoint());
  using Message = std::tuple<std::string, std::string, std::string>;
  std::vector<Message> got;
  auto record = [&](std::string_view pattern, std::string_view channel, std::string_view payload) {
    got.emplace_back(pattern, channel, payload);
  };
  std::string channel("ch\0an", 5);
  EXPECT_TRUE(sub.subscribe(channel, record));  // before connect: sent with the handshake
  sub.connect();
  pub.connect();
  ASSERT_TRUE(wait_connected(sub)) << sub.last_error();
  ASSERT_TRUE(wait_connected(pub)) << pub.last_error();
  EXPECT_TRUE(sub.psubscribe("news.*", record));  // on an up link: sent at once
  EXPECT_TRUE(sub.ssubscribe("shard{1}", record));
  ASSERT_TRUE(wait_subscribers(pub, "NUMSUB", channel, 1));
  ASSERT_TRUE(wait_subscribers(pub, "NUMPAT", "", 1));
  ASSERT_TRUE(wait_subscribers(pub, "SHARDNUMSUB", "shard{1}", 1));

  std::string payload = all_bytes();
  auto n = call(io_, pub, {"PUBLISH", channel, payload});
  ASSERT_TRUE(n);
  EXPECT_EQ(n->integer, 1);
  ASSERT_TRUE(call(io_, pub, {"PUBLISH", "news.sport", std::string("\0goal", 5)}));
  ASSERT_TRUE(call(io_, pub, {"SPUBLISH", "shard{1}", std::string("s\0", 2)}));
  ASSERT_TRUE(call(io_, pub, {"PUBLISH", "other", "ignored"}));
  ASSERT_TRUE(run_until(io_, [&] { return got.size() >= 3; }));
  run_until(io_, [] { return false; }, 50ms);  // nothing else may arrive
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], Message("", channel, payload));
  EXPECT_EQ(got[1], Message("news.*", "news.sport", std::string("\0goal", 5)));
  EXPECT_EQ(got[2], Message("", "shard{1}", std::string("s\0", 2)));
}

TEST_F(RedisTest, ModesDoNotMix) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  Connection c(io_, unix_endpoint());
  auto before = call(io_, c, {"PING"});  // connect() not called yet
  ASSERT_TRUE(before);
  EXPECT_EQ(before->type, Reply::Type::io_error);
  EXPECT_FALSE(c.subscribe("x", [](auto, auto, auto) {}));  // command() decided the mode

  Connection s(io_, unix_endpoint());
  EXPECT_TRUE(s.subscribe("x", [](auto, auto, auto) {}));
  s.connect();
  ASSERT_TRUE(wait_connected(s));
  auto refused = call(io_, s, {"PING"});
  ASSERT_TRUE(refused);
  EXPECT_TRUE(refused->is_error());
}

TEST_F(RedisTest, AuthenticatesWithPassword) {
  ASSERT_NO_FATAL_FAILURE(start_server({"--requirepass", "s3cr:et"}));
  auto endpoint = parse_url("unix://:s3cr%3Aet@" + server_->socket_path());
  ASSERT_TRUE(endpoint);
  Connection good(io_, *endpoint);
  good.connect();
  ASSERT_TRUE(wait_connected(good)) << good.last_error();
  auto set = call(io_, good, {"SET", "k", "v"});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->str, "OK");

  Endpoint with_user = *endpoint;
  with_user.user = "default";
  Connection named(io_, with_user);
  named.connect();
  ASSERT_TRUE(wait_connected(named)) << named.last_error();

  Connection wrong(io_, unix_endpoint("nope"));
  Connection none(io_, unix_endpoint());
  wrong.connect();
  none.connect();
  ASSERT_TRUE(run_until(io_, [&] { return !wrong.last_error().empty() && !none.last_error().empty(); }));
  EXPECT_NE(wrong.last_error().find("WRONGPASS"), std::string::npos) << wrong.last_error();
  EXPECT_NE(none.last_error().find("NOAUTH"), std::string::npos) << none.last_error();
  run_until(io_, [] { return false; }, 100ms);
  EXPECT_FALSE(wrong.connected());
  EXPECT_FALSE(none.connected());
}

TEST_F(RedisTest, SelectsTheDatabase) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  Connection db3(io_, unix_endpoint({}, 3));
  Connection db0(io_, unix_endpoint());
  auto url3 = parse_url("unix://" + server_->socket_path() + "?db=3");
  ASSERT_TRUE(url3);
  Connection db3_again(io_, *url3);
  db3.connect();
  db0.connect();
  db3_again.connect();
  ASSERT_TRUE(call(io_, db3, {"SET", "where", "three"}));
  auto in0 = call(io_, db0, {"GET", "where"});
  ASSERT_TRUE(in0);
  EXPECT_EQ(in0->type, Reply::Type::nil);
  auto in3 = call(io_, db3_again, {"GET", "where"});
  ASSERT_TRUE(in3);
  EXPECT_EQ(in3->str, "three");
}

TEST_F(RedisTest, ReconnectsResubscribesAndFailsCommandsWhileDown) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  Connection cmd(io_, unix_endpoint());
  Connection sub(io_, unix_endpoint());
  std::vector<bool> cmd_states, sub_states;
  cmd.on_state([&](bool up) { cmd_states.push_back(up); });
  sub.on_state([&](bool up) { sub_states.push_back(up); });
  std::vector<std::string> payloads, pattern_payloads;
  sub.subscribe("events", [&](auto, auto, std::string_view p) { payloads.emplace_back(p); });
  sub.psubscribe("ev*", [&](auto, auto, std::string_view p) { pattern_payloads.emplace_back(p); });
  cmd.connect();
  sub.connect();
  ASSERT_TRUE(wait_connected(cmd));
  ASSERT_TRUE(wait_connected(sub));
  ASSERT_TRUE(wait_subscribers(cmd, "NUMSUB", "events", 1));

  // A command in flight when the link drops: BLPOP never answers on its own.
  std::optional<Reply> blocked;
  cmd.command({"BLPOP", "never", "0"}, [&](Reply r) { blocked = std::move(r); });
  run_until(io_, [] { return false; }, 50ms);
  EXPECT_FALSE(blocked);

  server_->kill_now();
  ASSERT_TRUE(run_until(io_, [&] { return cmd_states.size() == 2 && sub_states.size() == 2; }));
  EXPECT_EQ(cmd_states, (std::vector<bool>{true, false}));
  EXPECT_EQ(sub_states, (std::vector<bool>{true, false}));
  ASSERT_TRUE(blocked);
  EXPECT_EQ(blocked->type, Reply::Type::io_error);

  auto while_down = call(io_, cmd, {"PING"});
  ASSERT_TRUE(while_down);
  EXPECT_EQ(while_down->type, Reply::Type::io_error);
  EXPECT_FALSE(cmd.connected());

  std::string error = server_->start();
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_TRUE(run_until(io_, [&] { return cmd_states.size() == 3 && sub_states.size() == 3; }, 15000ms));
  EXPECT_TRUE(cmd_states.back());
  EXPECT_TRUE(sub_states.back());
  ASSERT_TRUE(wait_subscribers(cmd, "NUMSUB", "events", 1));
  ASSERT_TRUE(wait_subscribers(cmd, "NUMPAT", "", 1));
  ASSERT_TRUE(call(io_, cmd, {"PUBLISH", "events", std::string("after\0restart", 13)}));
  ASSERT_TRUE(run_until(io_, [&] { return payloads.size() == 1 && pattern_payloads.size() == 1; }));
  EXPECT_EQ(payloads[0], std::string("after\0restart", 13));
  EXPECT_EQ(pattern_payloads[0], std::string("after\0restart", 13));
}

TEST_F(RedisTest, DestroyingDropsPendingCallbacks) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  int called = 0;
  {
    Connection c(io_, unix_endpoint());
    c.connect();
    ASSERT_TRUE(wait_connected(c));
    for (int i = 0; i < 10; ++i) c.command({"PING"}, [&](Reply) { ++called; });
  }
  run_until(io_, [] { return false; }, 50ms);
  EXPECT_EQ(called, 0);

  // Destroyed from inside its own callback: hiredis defers the free until the callback returns.
  auto owned = std::make_unique<Connection>(io_, unix_endpoint());
  owned->connect();
  ASSERT_TRUE(wait_connected(*owned));
  bool first = false;
  owned->command({"PING"}, [&](Reply r) {
    first = r.str == "PONG";
    owned.reset();
  });
  owned->command({"PING"}, [&](Reply) { ++called; });
  ASSERT_TRUE(run_until(io_, [&] { return first; }));
  run_until(io_, [] { return false; }, 50ms);
  EXPECT_EQ(called, 0);
}

}  // namespace
}  // namespace iogate::redis
