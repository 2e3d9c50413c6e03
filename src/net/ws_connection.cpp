#include "net/ws_connection.h"

#include <cassert>
#include <cstring>

#include <boost/asio/post.hpp>

namespace iogate::net {

namespace asio = boost::asio;

namespace {

// One receive buffer per shard thread: a connection keeps received bytes of its own only while
// a frame is incomplete, so an idle WebSocket costs no buffer at all.
constexpr std::size_t kShardReadBufferSize = 64 * 1024;
// Reads per readiness event before yielding to other connections of the shard.
constexpr int kReadsPerWakeup = 4;
// A peer that does not read is cut off rather than allowed to grow our memory without bound.
constexpr std::size_t kMaxQueuedBytes = 8 * 1024 * 1024;

char* shard_read_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[kShardReadBufferSize]);
  return buffer.get();
}

// Buffers per gathered write: what the kernel takes in one sendmsg without Asio splitting it.
constexpr std::size_t kMaxBuffersPerWrite = 64;

// Scratch space for the gather list of one write, per shard thread.
std::vector<asio::const_buffer>& shard_write_buffers() {
  thread_local std::vector<asio::const_buffer> buffers = [] {
    std::vector<asio::const_buffer> reserved;
    reserved.reserve(kMaxBuffersPerWrite);
    return reserved;
  }();
  return buffers;
}

}  // namespace

WsConnection::WsConnection(asio::ip::tcp::socket socket, std::size_t shard, std::size_t max_message_size,
                           std::string first_bytes, std::string buffered)
    : socket_(std::move(socket)),
      shard_(shard),
      parser_(max_message_size),
      partial_(std::move(buffered)) {
  if (!first_bytes.empty()) {
    queued_bytes_ += first_bytes.size();
    queue_.push_back(std::make_shared<const std::string>(std::move(first_bytes)));
  }
}

WsConnection::~WsConnection() = default;

void WsConnection::start(WsHandler* handler) {
  handler_ = handler;
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  schedule_flush();
  if (partial_.empty()) {
    read();
    return;
  }
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->process(nullptr, 0)) {
      self->read();
    }
  });
}

void WsConnection::read() {
  if (terminated_) {
    return;
  }
  reading_ = true;
  socket_.async_wait(asio::ip::tcp::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
    self->reading_ = false;
    if (ec) {
      self->terminate();
    } else if (self->lingering_) {
      self->drain();
    } else {
      self->on_readable();
    }
  });
}

void WsConnection::on_readable() {
  char* buffer = shard_read_buffer();
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    boost::system::error_code ec;
    std::size_t bytes = socket_.read_some(asio::buffer(buffer, kShardReadBufferSize), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      break;
    }
    if (ec) {
      terminate();
      return;
    }
    if (!process(buffer, bytes)) {
      return;
    }
    if (bytes < kShardReadBufferSize) {
      break;
    }
  }
  read();
}

// Parses what arrived, after any incomplete frame kept from before. Returns false once the
// connection is closing.
bool WsConnection::process(char* data, std::size_t size) {
  ws::FrameParser::Result result;
  if (partial_.empty()) {
    result = parser_.consume(data, size, *this);
    if (!result.failed && result.consumed < size && !closing_) {
      partial_.assign(data + result.consumed, size - result.consumed);
    }
  } else {
    partial_.append(data, size);
    result = parser_.consume(partial_.data(), partial_.size(), *this);
    if (!result.failed && !closing_) {
      partial_.erase(0, result.consumed);
      if (partial_.empty()) {
        std::string().swap(partial_);
      }
    }
  }
  if (result.failed) {
    close(result.close_code);
    return false;
  }
  return !terminated_ && !closing_;
}

void WsConnection::on_message(bool binary, std::string_view payload) {
  if (handler_ != nullptr && !closing_) {
    handler_->on_ws_message(binary, payload);
  }
}

void WsConnection::on_ping(std::string_view payload) {
  std::string frame;
  ws::append_frame_header(frame, ws::Opcode::pong, payload.size());
  frame.append(payload);
  send(std::move(frame));
}

void WsConnection::on_pong(std::string_view) {}

void WsConnection::on_close(std::uint16_t code, std::string_view) {
  auto reply = code == static_cast<std::uint16_t>(ws::CloseCode::no_status) ? ws::CloseCode::normal
                                                                            : static_cast<ws::CloseCode>(code);
  close(reply);
}

void WsConnection::send(SharedFrame frame) {
  if (closing_ || terminated_) {
    return;
  }
  queued_bytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (queued_bytes_ > kMaxQueuedBytes) {
    // Deferred: a sender must never see its own send call back into it.
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->terminate(); });
    return;
  }
  schedule_flush();
}

void WsConnection::send(std::string frame) { send(std::make_shared<const std::string>(std::move(frame))); }

void WsConnection::close(ws::CloseCode code) {
  if (closing_ || terminated_) {
    return;
  }
  std::string frame;
  ws::append_close_frame(frame, code);
  queued_bytes_ += frame.size();
  queue_.push_back(std::make_shared<const std::string>(std::move(frame)));
  closing_ = true;
  close_after_flush_ = true;
  schedule_flush();
  if (handler_ != nullptr) {
    auto* handler = handler_;
    handler_ = nullptr;
    handler->on_ws_closed();
  }
}

// The shard's connections with frames to write. Sends made during a loop turn only queue
// frames; one task at the end of the turn writes every listed connection, so a broadcast costs
// one gathered write per recipient and no task or handler of its own per recipient.
std::vector<std::shared_ptr<WsConnection>>& WsConnection::shard_flush_list() {
  thread_local std::vector<std::shared_ptr<WsConnection>> list;
  return list;
}

void WsConnection::schedule_flush() {
  // The flush list is the calling thread's: a send from another shard would never be written.
  assert(socket_.get_executor().target<asio::io_context::executor_type>()->running_in_this_thread());
  if (flush_scheduled_ || writing_) {
    return;
  }
  flush_scheduled_ = true;
  auto& list = shard_flush_list();
  if (list.empty()) {
    asio::post(socket_.get_executor(), &WsConnection::flush_shard);
  }
  list.push_back(shared_from_this());
}

void WsConnection::flush_shard() {
  thread_local std::vector<std::shared_ptr<WsConnection>> flushing;
  // Writes may run handlers that send again: those land in the fresh list and its next task.
  flushing.swap(shard_flush_list());
  for (const auto& connection : flushing) {
    connection->flush_scheduled_ = false;
    connection->flush();
  }
  flushing.clear();
}

// Writes at once, without an Asio operation, as long as the kernel takes the bytes; waits for
// writability only when the socket buffer is full.
void WsConnection::flush() {
  if (writing_ || terminated_) {
    return;
  }
  auto& buffers = shard_write_buffers();
  // Bounded: every round writes at least one byte or returns.
  while (!queue_.empty()) {
    buffers.clear();
    std::size_t skip = sent_of_first_;
    for (std::size_t i = 0; i < queue_.size() && buffers.size() < kMaxBuffersPerWrite; ++i) {
      buffers.emplace_back(queue_[i]->data() + skip, queue_[i]->size() - skip);
      skip = 0;
    }
    boost::system::error_code ec;
    // One buffer: send(), which costs the kernel less than sendmsg's gather list.
    const std::size_t written =
        buffers.size() == 1 ? socket_.write_some(buffers.front(), ec) : socket_.write_some(buffers, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      wait_writable();
      return;
    }
    if (ec) {
      terminate();
      return;
    }
    consume(written);
  }
  if (close_after_flush_) {
    linger();
  }
}

void WsConnection::consume(std::size_t written) {
  std::size_t done = 0;
  while (written > 0 && done < queue_.size()) {
    const std::size_t left = queue_[done]->size() - sent_of_first_;
    if (written < left) {
      sent_of_first_ += written;
      break;
    }
    written -= left;
    queued_bytes_ -= queue_[done]->size();
    sent_of_first_ = 0;
    ++done;
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(done));
}

void WsConnection::wait_writable() {
  writing_ = true;
  socket_.async_wait(asio::ip::tcp::socket::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
    self->writing_ = false;
    if (ec) {
      self->terminate();
      return;
    }
    self->flush();
  });
}

// After our close frame: stop sending, then read and discard until the peer closes (or a
// short grace expires), so unread input does not turn the close into a reset that loses the
// close frame.
void WsConnection::linger() {
  if (terminated_ || lingering_) {
    return;
  }
  lingering_ = true;
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  linger_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor(), std::chrono::seconds(2));
  linger_timer_->async_wait([self = shared_from_this()](boost::system::error_code timer_error) {
    if (!timer_error) {
      self->terminate();
    }
  });
  if (!reading_) {
    drain();
  }
}

void WsConnection::drain() {
  char* buffer = shard_read_buffer();
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(buffer, kShardReadBufferSize), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      break;
    }
    if (ec) {
      terminate();
      return;
    }
  }
  read();
}

void WsConnection::terminate() {
  if (terminated_) {
    return;
  }
  terminated_ = true;
  closing_ = true;
  linger_timer_.reset();
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  queue_.clear();
  sent_of_first_ = 0;
  if (handler_ != nullptr) {
    auto* handler = handler_;
    handler_ = nullptr;
    handler->on_ws_closed();
  }
}

}  // namespace iogate::net
