#include "app/ratelimit/redis_rate_limiter.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace iogate::app {

namespace {

// KEYS[1]: the window's counter. ARGV: limit, window (ms). Returns 1 when the event may proceed.
// The first allowed event opens the window (the key's expiry); refused events do not count.
const Script& allow_script() {
  static const Script script(R"lua(
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then return 0 end
if count == 0 then
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[2])
else
  redis.call('INCR', KEYS[1])
end
return 1
)lua");
  return script;
}

}  // namespace

void RedisRateLimiter::allow(const std::string& key, const RateLimit& rule, std::function<void(bool)> done) {
  // PX needs at least 1 ms; a window of 0 s then behaves as in memory (a new window each event).
  auto window_ms = std::max<std::uint64_t>(std::uint64_t{rule.window_seconds} * 1000, 1);
  link_.eval(allow_script(), {prefix_ + ":rate:" + key}, {std::to_string(rule.limit), std::to_string(window_ms)},
             [done = std::move(done)](redis::Reply reply) {
               if (reply.type == redis::Reply::Type::integer) {
                 done(reply.integer == 1);
                 return;
               }
               if (reply.type != redis::Reply::Type::io_error) {
                 spdlog::error("event=rate-limit-script-failed error=\"{}\"", reply.str);
               }
               done(true);  // fail open: see the header
             });
}

}  // namespace iogate::app
