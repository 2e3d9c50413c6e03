#include "eio/deadline_queue.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace iogate::eio {
namespace {

using namespace std::chrono_literals;

struct Recorder final : DeadlineQueue::Entry {
  Recorder(std::vector<int>& log, int id) : fired(log), name(id) {}
  void on_expired() override {
    fired.push_back(name);
    if (then) {
      then();
    }
  }
  std::vector<int>& fired;
  int name;
  std::function<void()> then;
};

TEST(DeadlineQueue, ExpiresInArmingOrderAfterTheDelay) {
  boost::asio::io_context io;
  DeadlineQueue queue(io, 20ms);
  std::vector<int> fired;
  Recorder first(fired, 1), second(fired, 2), third(fired, 3);
  const auto start = DeadlineQueue::Clock::now();
  queue.arm(first);
  queue.arm(second);
  queue.arm(third);
  io.run_for(1s);
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(DeadlineQueue::Clock::now() - start, 20ms);
  EXPECT_FALSE(first.armed());
}

TEST(DeadlineQueue, CancelledAndDestroyedEntriesNeverFire) {
  boost::asio::io_context io;
  DeadlineQueue queue(io, 10ms);
  std::vector<int> fired;
  Recorder kept(fired, 1), cancelled(fired, 2);
  queue.arm(cancelled);
  queue.arm(kept);
  {
    Recorder destroyed(fired, 3);
    queue.arm(destroyed);
  }
  cancelled.disarm();
  io.run_for(200ms);
  EXPECT_EQ(fired, std::vector<int>{1});
}

TEST(DeadlineQueue, ReArmingMovesToTheBackAndBetweenQueues) {
  boost::asio::io_context io;
  DeadlineQueue short_queue(io, 10ms);
  DeadlineQueue long_queue(io, 60ms);
  std::vector<int> fired;
  Recorder a(fired, 1), b(fired, 2);
  short_queue.arm(a);
  short_queue.arm(b);
  short_queue.arm(a);  // now after b
  long_queue.arm(b);   // leaves the short queue
  io.run_for(300ms);
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
}

TEST(DeadlineQueue, AnEntryMayReArmItselfFromItsCallback) {
  boost::asio::io_context io;
  DeadlineQueue queue(io, 5ms);
  std::vector<int> fired;
  Recorder repeating(fired, 7);
  int rounds = 0;
  repeating.then = [&] {
    if (++rounds < 4) {
      queue.arm(repeating);
    }
  };
  queue.arm(repeating);
  io.run_for(500ms);
  EXPECT_EQ(fired, (std::vector<int>{7, 7, 7, 7}));
}

TEST(DeadlineQueue, AQueueDestroyedWithItsTimerPendingLeavesEntriesDisarmed) {
  boost::asio::io_context io;
  std::vector<int> fired;
  Recorder entry(fired, 1);
  {
    DeadlineQueue queue(io, 5ms);
    queue.arm(entry);
  }
  EXPECT_FALSE(entry.armed());
  io.run_for(50ms);
  EXPECT_TRUE(fired.empty());
}

}  // namespace
}  // namespace iogate::eio
