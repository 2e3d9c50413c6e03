#pragma once
// N event loops, one thread each ("shards"). A connection lives on one shard for its whole
// life, so its state needs no locks; shards talk only by posting closures to each other.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace iogate::net {

class ShardPool {
 public:
  // 0 means one shard per hardware thread.
  explicit ShardPool(std::size_t shard_count = 0);
  ~ShardPool();
  ShardPool(const ShardPool&) = delete;
  ShardPool& operator=(const ShardPool&) = delete;

  std::size_t size() const noexcept { return contexts_.size(); }
  boost::asio::io_context& context(std::size_t shard) { return *contexts_[shard]; }

  // Index of the shard whose thread is running the caller, or npos off-shard.
  std::size_t current() const noexcept;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  void post(std::size_t shard, std::function<void()> work);

  // Starts shards 1..N-1 on their own threads and runs shard 0 on the calling thread until stop().
  void run();
  // Starts every shard on its own thread and returns at once.
  void start();
  // Stops every loop (safe from any thread); join() waits for the threads.
  void stop();
  // Stops after `grace`, so that bytes already queued (close frames, last polls) go out.
  void stop_after(std::chrono::milliseconds grace);
  void join();

 private:
  void run_shard(std::size_t shard);

  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>>
      guards_;
  std::vector<std::thread> threads_;
};

}  // namespace iogate::net
