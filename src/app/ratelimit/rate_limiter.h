#pragma once
// Fixed-window rate limits per (namespace, user, event): a window opens with the first event
// allowed and lasts `window_seconds`; at most `limit` events pass in it, and refused events do
// not count. The decision and the count are one step, so two events at the limit cannot both
// pass. MemoryRateLimiter decides in this process (the default); RedisRateLimiter
// (redis_rate_limiter.h) decides in Redis for a cluster.
//
// Asynchronous: the answer comes through a callback, at once inside the call (memory) or later on
// another thread (Redis). Thread-safe.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace iogate::app {

struct RateLimit {
  std::uint32_t limit = 10;
  std::uint32_t window_seconds = 60;
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // done(true) when the event may proceed (and is counted).
  virtual void allow(const std::string& key, const RateLimit& rule, std::function<void(bool)> done) = 0;
  // Forgets windows that have ended (called periodically; Redis expires them by itself).
  virtual void prune() {}
};

class MemoryRateLimiter final : public RateLimiter {
 public:
  void allow(const std::string& key, const RateLimit& rule, std::function<void(bool)> done) override {
    done(allow_at(key, rule, std::chrono::steady_clock::now()));
  }
  void prune() override { prune_at(std::chrono::steady_clock::now()); }

  bool allow_at(const std::string& key, const RateLimit& rule, std::chrono::steady_clock::time_point now);
  void prune_at(std::chrono::steady_clock::time_point now);

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    std::uint32_t window_seconds = 0;
    std::uint32_t count = 0;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace iogate::app
