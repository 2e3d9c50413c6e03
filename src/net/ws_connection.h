#pragma once
// A server-side WebSocket connection over a socket taken from HttpConnection after the 101.
// Outgoing frames are shared immutable bytes (a broadcast is framed once for every recipient);
// sends made during one loop turn go out in one gathered write at the end of the turn, written
// directly while the kernel takes them.
//
// Shard-confined. Owned by shared_ptr: its pending read and write, and its Engine.IO session.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/ws/frame.h"

namespace iogate::net {

class WsHandler {
 public:
  virtual void on_ws_message(bool binary, std::string_view payload) = 0;
  // The connection is gone (peer close, error, or close()); called once.
  virtual void on_ws_closed() = 0;

 protected:
  ~WsHandler() = default;
};

using SharedFrame = std::shared_ptr<const std::string>;

class WsConnection final : public std::enable_shared_from_this<WsConnection>, private ws::FrameHandler {
 public:
  // `first_bytes` (the 101 response) is written before any frame; `buffered` are bytes already
  // read past the request head.
  WsConnection(boost::asio::ip::tcp::socket socket, std::size_t shard, std::size_t max_message_size,
               std::string first_bytes, std::string buffered);
  ~WsConnection();

  void start(WsHandler* handler);
  void set_handler(WsHandler* handler) noexcept { handler_ = handler; }
  std::size_t shard() const noexcept { return shard_; }

  void send(SharedFrame frame);
  void send(std::string frame);
  // Sends a close frame after what is queued, then closes the socket.
  void close(ws::CloseCode code = ws::CloseCode::normal);
  bool is_open() const noexcept { return !closing_; }
  // Nothing is waiting to be written (volatile packets are dropped otherwise).
  bool writable() const noexcept { return !writing_ && queue_.empty(); }
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }

 private:
  void read();
  void on_readable();
  bool process(char* data, std::size_t size);
  void schedule_flush();
  static std::vector<std::shared_ptr<WsConnection>>& shard_flush_list();
  static void flush_shard();
  void flush();
  void consume(std::size_t written);
  void wait_writable();
  void terminate();
  void linger();
  void drain();

  void on_message(bool binary, std::string_view payload) override;
  void on_ping(std::string_view payload) override;
  void on_pong(std::string_view payload) override;
  void on_close(std::uint16_t code, std::string_view reason) override;

  boost::asio::ip::tcp::socket socket_;
  std::size_t shard_;
  ws::FrameParser parser_;
  WsHandler* handler_ = nullptr;
  std::string partial_;  // an incomplete frame, kept until the rest arrives
  std::vector<SharedFrame> queue_;  // not yet (entirely) written
  std::size_t sent_of_first_ = 0;   // bytes of queue_.front() already written
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool flush_scheduled_ = false;
  bool closing_ = false;
  bool close_after_flush_ = false;
  bool terminated_ = false;
  bool lingering_ = false;
  bool reading_ = false;
  std::unique_ptr<boost::asio::steady_timer> linger_timer_;  // only while closing
};

}  // namespace iogate::net
