#pragma once
// Rate limits shared by every node of a cluster: the window's counter lives in Redis under
// `<prefix>:rate:<key>` and expires with the window; one script reads, decides and counts, so
// two nodes at the limit cannot both let an event through. Same fixed-window semantics as
// MemoryRateLimiter.
//
// Redis away: every event is allowed (fail open), so that a Redis outage slows nobody down; the
// limits hold again as soon as it is back.
//
// Threads: calls from any thread; `done` runs on the link's home loop.
#include <string>

#include "app/ratelimit/rate_limiter.h"
#include "app/redis/redis_link.h"

namespace iogate::app {

class RedisRateLimiter final : public RateLimiter {
 public:
  RedisRateLimiter(RedisLink& link, std::string prefix) : link_(link), prefix_(std::move(prefix)) {}

  void allow(const std::string& key, const RateLimit& rule, std::function<void(bool)> done) override;

 private:
  RedisLink& link_;
  std::string prefix_;
};

}  // namespace iogate::app
