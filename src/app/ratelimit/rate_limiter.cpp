#include "app/ratelimit/rate_limiter.h"

namespace iogate::app {

bool MemoryRateLimiter::allow_at(const std::string& key, const RateLimit& rule,
                                 std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto& window = windows_[key];
  if (window.count == 0 || now - window.start >= std::chrono::seconds(window.window_seconds)) {
    window.start = now;
    window.window_seconds = rule.window_seconds;
    window.count = 0;
  }
  if (window.count >= rule.limit) {
    return false;
  }
  ++window.count;
  return true;
}

void MemoryRateLimiter::prune_at(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  std::erase_if(windows_, [&](const auto& entry) {
    return now - entry.second.start >= std::chrono::seconds(entry.second.window_seconds);
  });
}

}  // namespace iogate::app
