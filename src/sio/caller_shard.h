#pragma once
// Callbacks that must come back to the shard that asked: sockets are shard-confined, and cluster
// adapters answer on their own loop.
#include <functional>
#include <utility>

#include "net/shard_pool.h"

namespace iogate::sio {

// Wraps `done` so that it runs on the shard of the thread calling this. Off-pool callers get
// their answer wherever it comes.
template <typename... Args>
std::function<void(Args...)> on_caller_shard(net::ShardPool& pool, std::function<void(Args...)> done) {
  const std::size_t origin = pool.current();
  if (origin == net::ShardPool::npos) {
    return done;
  }
  return [&pool, origin, done = std::move(done)](Args... args) mutable {
    if (pool.current() == origin) {
      done(std::move(args)...);
      return;
    }
    pool.post(origin, [done = std::move(done), ... args = std::move(args)]() mutable { done(std::move(args)...); });
  };
}

}  // namespace iogate::sio
