#pragma once
// The gateway application's link to Redis, shared by the Redis presence store and rate limiter:
// one command connection on one loop, the "home" (pool.context(0) in the binary), usable from any
// thread. A script goes as EVALSHA, and again as EVAL when Redis answers NOSCRIPT (it restarted
// or was flushed), so each decision costs one round trip.
//
// Never keeps a caller waiting: while Redis is away a command fails at once, and one that has no
// reply within the command timeout (a stalled link) fails then; its late reply is dropped.
//
// Threads: callbacks run on the home loop. Construct, start and destroy it on the home loop or
// while that loop is not running (as main() does); everything else may be called from any thread.
//
// Example:
//   app::RedisLink link(pool.context(0), *redis::parse_url("redis://127.0.0.1:6379"));
//   link.start();
//   link.eval(kScript, {"key"}, {"1"}, [](redis::Reply reply) { /* on the home loop */ });
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "redis/connection.h"

namespace iogate::app {

// A Lua script and its SHA-1 (what EVALSHA names it by). Scripts are the program's constants:
// a RedisLink keeps a reference to one until its reply has come.
class Script {
 public:
  explicit Script(std::string source);
  const std::string& source() const noexcept { return source_; }
  const std::string& sha1() const noexcept { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

class RedisLink {
 public:
  using Done = std::function<void(redis::Reply)>;

  RedisLink(boost::asio::io_context& home, redis::Endpoint endpoint,
            std::chrono::milliseconds command_timeout = std::chrono::seconds(2));
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // Called on the home loop each time the link comes up (true) or an up link drops (false).
  // Add every handler before start().
  void on_state(std::function<void(bool connected)> handler);
  // Connects, and keeps reconnecting with backoff whenever the link drops.
  void start();

  bool connected() const noexcept;
  boost::asio::io_context& home() noexcept { return home_; }

  // `done` runs once on the home loop: with the reply, or with an io_error Reply when Redis is
  // away, the link drops or the command timeout passes.
  void command(std::vector<std::string> args, Done done);
  void eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args, Done done);

 private:
  struct Core;

  boost::asio::io_context& home_;
  std::shared_ptr<Core> core_;  // posted work holds it weakly: nothing runs on a destroyed link
};

}  // namespace iogate::app
