#pragma once
// Fixed-window rate limits per (namespace, user, event). The decision and the count happen
// under one lock, so two events at the limit cannot both pass; refused events do not count.
// Thread-safe.
#include <chrono>
#include <cstdint>
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
  // True when the event may proceed (and is counted).
  bool allow(const std::string& key, const RateLimit& rule, std::chrono::steady_clock::time_point now);
  // Forgets windows that have ended (called periodically).
  void prune(std::chrono::steady_clock::time_point now);

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
