#pragma once
// Deadlines of one fixed delay on one loop, for the per-session heartbeat. Every entry waits the
// same time, so entries expire in the order they were armed: a FIFO list and one Asio timer
// serve a whole shard, with O(1) arm and cancel and a few pointers per session instead of an
// Asio timer (and its pending wait operation) per session.
//
// Loop-confined: arm, cancel and the callbacks all run on the queue's io_context thread.
//
// Example:
//   struct Heartbeat final : DeadlineQueue::Entry {
//     void on_expired() override { ... }   // already unlinked; may re-arm itself
//   } heartbeat;
//   pings.arm(heartbeat);                   // expires after pings.delay()
//   pings.cancel(heartbeat);                // or let its destructor do it
#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace iogate::eio {

class DeadlineQueue {
 public:
  using Clock = std::chrono::steady_clock;

  class Entry {
   public:
    Entry() = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    virtual ~Entry();

    bool armed() const noexcept { return queue_ != nullptr; }
    void disarm() noexcept;
    // Called once the delay has passed, after the entry left its queue.
    virtual void on_expired() = 0;

   private:
    friend class DeadlineQueue;
    DeadlineQueue* queue_ = nullptr;
    Entry* previous_ = nullptr;
    Entry* next_ = nullptr;
    Clock::time_point expiry_;
  };

  DeadlineQueue(boost::asio::io_context& context, Clock::duration delay);
  ~DeadlineQueue();
  DeadlineQueue(const DeadlineQueue&) = delete;
  DeadlineQueue& operator=(const DeadlineQueue&) = delete;

  Clock::duration delay() const noexcept { return delay_; }
  // Expires `entry` after delay(); an entry armed in another queue (or this one) moves here.
  void arm(Entry& entry);
  void cancel(Entry& entry) noexcept;

 private:
  void link_last(Entry& entry) noexcept;
  void unlink(Entry& entry) noexcept;
  void wait_for_first();
  void expire();

  boost::asio::steady_timer timer_;
  Clock::duration delay_;
  Entry* first_ = nullptr;
  Entry* last_ = nullptr;
  bool waiting_ = false;
  // The timer's handler may be queued when the queue goes away; it checks this first.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace iogate::eio
