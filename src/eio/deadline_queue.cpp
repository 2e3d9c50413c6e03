#include "eio/deadline_queue.h"

namespace iogate::eio {

DeadlineQueue::Entry::~Entry() { disarm(); }

void DeadlineQueue::Entry::disarm() noexcept {
  if (queue_ != nullptr) {
    queue_->cancel(*this);
  }
}

DeadlineQueue::DeadlineQueue(boost::asio::io_context& context, Clock::duration delay)
    : timer_(context), delay_(delay) {}

DeadlineQueue::~DeadlineQueue() {
  while (first_ != nullptr) {
    unlink(*first_);
  }
}

void DeadlineQueue::arm(Entry& entry) {
  if (entry.queue_ != nullptr) {
    entry.queue_->cancel(entry);
  }
  entry.expiry_ = Clock::now() + delay_;
  link_last(entry);
  if (!waiting_) {
    wait_for_first();
  }
}

void DeadlineQueue::cancel(Entry& entry) noexcept {
  if (entry.queue_ == this) {
    unlink(entry);
  }
}

void DeadlineQueue::link_last(Entry& entry) noexcept {
  entry.queue_ = this;
  entry.previous_ = last_;
  entry.next_ = nullptr;
  (last_ != nullptr ? last_->next_ : first_) = &entry;
  last_ = &entry;
}

void DeadlineQueue::unlink(Entry& entry) noexcept {
  (entry.previous_ != nullptr ? entry.previous_->next_ : first_) = entry.next_;
  (entry.next_ != nullptr ? entry.next_->previous_ : last_) = entry.previous_;
  entry.queue_ = nullptr;
  entry.previous_ = nullptr;
  entry.next_ = nullptr;
}

// A cancelled first entry leaves the timer set for it: the wake-up finds nothing due and waits
// again, which costs less than re-arming the timer on every cancel.
void DeadlineQueue::wait_for_first() {
  waiting_ = true;
  timer_.expires_at(first_->expiry_);
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code error) {
    if (error || alive.expired()) {
      return;
    }
    waiting_ = false;
    expire();
  });
}

void DeadlineQueue::expire() {
  const auto now = Clock::now();
  // Bounded by the entries due now: an entry re-armed from its callback expires after `now`.
  while (first_ != nullptr && first_->expiry_ <= now) {
    Entry& due = *first_;
    unlink(due);
    due.on_expired();
  }
  if (first_ != nullptr && !waiting_) {
    wait_for_first();
  }
}

}  // namespace iogate::eio
