#include "net/shard_pool.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace iogate::net {

namespace {
thread_local std::size_t this_shard = ShardPool::npos;
thread_local const ShardPool* this_pool = nullptr;
}  // namespace

ShardPool::ShardPool(std::size_t shard_count) {
  if (shard_count == 0) {
    shard_count = std::max<std::size_t>(1, std::thread::hardware_concurrency());
  }
  for (std::size_t i = 0; i < shard_count; ++i) {
    // Concurrency hint 1: each context is driven by exactly one thread, so Asio can skip locking.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.push_back(std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
        contexts_.back()->get_executor()));
  }
}

ShardPool::~ShardPool() {
  stop();
  join();
}

std::size_t ShardPool::current() const noexcept { return this_pool == this ? this_shard : npos; }

void ShardPool::post(std::size_t shard, std::function<void()> work) {
  boost::asio::post(*contexts_[shard], std::move(work));
}

void ShardPool::run_shard(std::size_t shard) {
  this_shard = shard;
  this_pool = this;
  contexts_[shard]->run();
  this_shard = npos;
  this_pool = nullptr;
}

void ShardPool::start() {
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([this, i] { run_shard(i); });
  }
}

void ShardPool::run() {
  for (std::size_t i = 1; i < contexts_.size(); ++i) {
    threads_.emplace_back([this, i] { run_shard(i); });
  }
  run_shard(0);
  join();
}

void ShardPool::stop() {
  for (auto& guard : guards_) {
    guard->reset();
  }
  for (auto& context : contexts_) {
    context->stop();
  }
}

void ShardPool::stop_after(std::chrono::milliseconds grace) {
  auto timer = std::make_shared<boost::asio::steady_timer>(*contexts_[0], grace);
  timer->async_wait([this, timer](boost::system::error_code) { stop(); });
}

void ShardPool::join() {
  for (auto& thread : threads_) {
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) {
      thread.join();
    }
  }
  threads_.clear();
}

}  // namespace iogate::net
