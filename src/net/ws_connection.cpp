#include "net/ws_connection.h"

#include <cstring>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace iogate::net {

namespace asio = boost::asio;

namespace {
constexpr std::size_t kReadChunk = 16 * 1024;
// A peer that does not read is cut off rather than allowed to grow our memory without bound.
constexpr std::size_t kMaxQueuedBytes = 64 * 1024 * 1024;
}  // namespace

WsConnection::WsConnection(asio::ip::tcp::socket socket, std::size_t shard, std::size_t max_message_size,
                           std::string first_bytes, std::string buffered)
    : socket_(std::move(socket)), shard_(shard), parser_(max_message_size), linger_timer_(socket_.get_executor()) {
  read_buffer_.resize(std::max(kReadChunk, buffered.size() + kReadChunk));
  std::memcpy(read_buffer_.data(), buffered.data(), buffered.size());
  read_end_ = buffered.size();
  if (!first_bytes.empty()) {
    queued_bytes_ += first_bytes.size();
    queue_.push_back(std::make_shared<const std::string>(std::move(first_bytes)));
  }
}

WsConnection::~WsConnection() = default;

void WsConnection::start(WsHandler* handler) {
  handler_ = handler;
  schedule_flush();
  if (read_end_ > 0) {
    auto self = shared_from_this();
    asio::post(socket_.get_executor(), [self] { self->on_read(0); });
  } else {
    read();
  }
}

void WsConnection::read() {
  if (terminated_) {
    return;
  }
  if (read_buffer_.size() - read_end_ < kReadChunk) {
    read_buffer_.resize(read_end_ + kReadChunk);
  }
  reading_ = true;
  socket_.async_read_some(asio::buffer(read_buffer_.data() + read_end_, read_buffer_.size() - read_end_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t bytes) {
                            self->reading_ = false;
                            if (ec) {
                              self->terminate();
                            } else if (self->lingering_) {
                              self->drain();
                            } else {
                              self->on_read(bytes);
                            }
                          });
}

void WsConnection::on_read(std::size_t bytes) {
  read_end_ += bytes;
  auto result = parser_.consume(read_buffer_.data(), read_end_, *this);
  if (result.failed) {
    close(result.close_code);
    return;
  }
  if (terminated_ || closing_) {
    return;
  }
  std::memmove(read_buffer_.data(), read_buffer_.data() + result.consumed, read_end_ - result.consumed);
  read_end_ -= result.consumed;
  // Shrink a buffer grown for one large message once it is drained.
  if (read_end_ == 0 && read_buffer_.size() > 4 * kReadChunk) {
    read_buffer_.resize(kReadChunk);
    read_buffer_.shrink_to_fit();
  }
  read();
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

// Sends made in the same loop turn are gathered into one write at the end of the turn.
void WsConnection::schedule_flush() {
  if (flush_scheduled_ || writing_) {
    return;
  }
  flush_scheduled_ = true;
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->flush_scheduled_ = false;
    self->flush();
  });
}

void WsConnection::flush() {
  if (writing_ || terminated_) {
    return;
  }
  if (queue_.empty()) {
    if (close_after_flush_) {
      linger();
    }
    return;
  }
  writing_ = true;
  in_flight_.swap(queue_);
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(in_flight_.size());
  for (const auto& frame : in_flight_) {
    buffers.emplace_back(frame->data(), frame->size());
  }
  asio::async_write(socket_, buffers, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    self->writing_ = false;
    for (const auto& frame : self->in_flight_) {
      self->queued_bytes_ -= frame->size();
    }
    self->in_flight_.clear();
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
  linger_timer_.expires_after(std::chrono::seconds(2));
  linger_timer_.async_wait([self = shared_from_this()](boost::system::error_code timer_error) {
    if (!timer_error) {
      self->terminate();
    }
  });
  if (!reading_) {
    drain();
  }
}

void WsConnection::drain() {
  read_buffer_.resize(kReadChunk);
  reading_ = true;
  socket_.async_read_some(asio::buffer(read_buffer_.data(), read_buffer_.size()),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                            self->reading_ = false;
                            if (ec) {
                              self->terminate();
                            } else {
                              self->drain();
                            }
                          });
}

void WsConnection::terminate() {
  if (terminated_) {
    return;
  }
  terminated_ = true;
  closing_ = true;
  linger_timer_.cancel();
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  queue_.clear();
  if (handler_ != nullptr) {
    auto* handler = handler_;
    handler_ = nullptr;
    handler->on_ws_closed();
  }
}

}  // namespace iogate::net
