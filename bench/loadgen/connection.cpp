#include "connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <span>
#include <system_error>

#include "common/loopback_source.h"
#include "core/base64.h"
#include "net/ws/frame.h"

namespace loadgen {
namespace {

const Clock::time_point process_start = Clock::now();

// Larger messages mean something went wrong; the scenarios' messages are under 1 KiB.
constexpr std::uint64_t kMaxMessageBytes = 1 << 20;
constexpr std::size_t kMaxHttpHeadBytes = 16 * 1024;

// Every readable socket is drained into this one buffer; only a partial frame is copied out.
std::array<char, 256 * 1024> read_buffer;

// Masking keys and handshake nonces need no cryptographic strength (RFC 6455 §10.3 guards
// against proxies, and loopback has none); xorshift keeps the per-frame cost negligible.
std::uint64_t next_random() {
  static std::uint64_t state =
      0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(process_start.time_since_epoch().count());
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

std::string error_text(int error) { return std::generic_category().message(error); }

// A non-blocking TCP socket connecting to the server; -errno on failure.
int connect_socket(const ServerAddress& server) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -errno;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as browsers and Node clients do
  if (server.host.starts_with("127.")) {
    static std::size_t next_source = 0;
    bench::bind_loopback_source(fd, next_source++);
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(server.port);
  if (::inet_pton(AF_INET, server.host.c_str(), &address.sin_addr) != 1) {
    ::close(fd);
    return -EINVAL;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0 && errno != EINPROGRESS) {
    int error = errno;
    ::close(fd);
    return -error;
  }
  return fd;
}

int socket_error(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  return error;
}

void close_abortively(int fd) {
  linger option{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, sizeof option);
  ::close(fd);
}

enum class WriteResult { done, would_block, failed };

WriteResult write_pending(int fd, std::string& out, std::size_t& offset) {
  while (offset < out.size()) {
    ssize_t written = ::send(fd, out.data() + offset, out.size() - offset, MSG_NOSIGNAL);
    if (written > 0) {
      offset += static_cast<std::size_t>(written);
    } else if (written < 0 && errno == EINTR) {
      continue;
    } else if (written < 0 && errno == EAGAIN) {
      return WriteResult::would_block;
    } else {
      return WriteResult::failed;
    }
  }
  out.clear();
  offset = 0;
  return WriteResult::done;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The value of header `name` in an HTTP head (status line + headers, no final CRLF CRLF).
std::string_view header_value(std::string_view head, std::string_view name) {
  std::size_t line_start = head.find("\r\n");
  while (line_start != std::string_view::npos) {
    line_start += 2;
    std::size_t line_end = head.find("\r\n", line_start);
    std::string_view line =
        head.substr(line_start, line_end == std::string_view::npos ? head.npos : line_end - line_start);
    std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && equals_ignoring_case(line.substr(0, colon), name)) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.remove_suffix(1);
      }
      return value;
    }
    line_start = line_end;
  }
  return {};
}

std::string host_header(const ServerAddress& server) { return server.host + ":" + std::to_string(server.port); }

}  // namespace

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - process_start).count());
}

// --- Loop ----------------------------------------------------------------------------------------

Loop::Loop() : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_create1");
  }
}

Loop::~Loop() { ::close(epoll_fd_); }

void Loop::watch(int fd, Pollable& target, bool writable) {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | (writable ? EPOLLOUT : 0u);
  event.data.ptr = &target;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) < 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl add");
  }
}

void Loop::rewatch(int fd, Pollable& target, bool writable) {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | (writable ? EPOLLOUT : 0u);
  event.data.ptr = &target;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) < 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl mod");
  }
}

void Loop::unwatch(int fd) { ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void Loop::poll(std::chrono::milliseconds max_wait) {
  std::array<epoll_event, 1024> ready;
  int count = ::epoll_wait(epoll_fd_, ready.data(), static_cast<int>(ready.size()), static_cast<int>(max_wait.count()));
  if (count < 0) {
    if (errno == EINTR) {
      return;
    }
    throw std::system_error(errno, std::generic_category(), "epoll_wait");
  }
  for (const auto& event : std::span(ready.data(), static_cast<std::size_t>(count))) {
    static_cast<Pollable*>(event.data.ptr)->on_ready(event.events);
  }
}

// --- Connection ----------------------------------------------------------------------------------

Connection::Connection(Loop& loop, ConnectionEvents& events, std::uint32_t index)
    : loop_(loop), events_(&events), index_(index) {}

Connection::~Connection() { close(); }

void Connection::start(const ServerAddress& server) { open_socket(server, "/socket.io/?EIO=4&transport=websocket"); }

void Connection::start_upgrade(const ServerAddress& server, std::string polling_sid) {
  polling_sid_ = std::move(polling_sid);
  open_socket(server, "/socket.io/?EIO=4&transport=websocket&sid=" + polling_sid_);
}

void Connection::open_socket(const ServerAddress& server, std::string request_target) {
  std::string nonce(16, '\0');
  for (std::size_t i = 0; i < nonce.size(); i += 8) {
    std::uint64_t bits = next_random();
    std::memcpy(nonce.data() + i, &bits, 8);
  }
  std::string key = iogate::core::base64_encode(nonce);
  expected_accept_ = iogate::net::ws::compute_accept_key(key);
  request_ = "GET " + request_target + " HTTP/1.1\r\nHost: " + host_header(server) +
             "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key +
             "\r\n\r\n";
  int fd = connect_socket(server);
  if (fd < 0) {
    state_ = State::closed;
    events_->on_failed(*this, "connect: " + error_text(-fd));
    return;
  }
  fd_ = fd;
  state_ = State::tcp_connecting;
  loop_.watch(fd_, *this, true);
  watching_write_ = true;
}

void Connection::close() {
  if (fd_ < 0) {
    return;
  }
  close_abortively(fd_);
  fd_ = -1;
  state_ = State::closed;
  watching_write_ = false;
  out_.clear();
  out_offset_ = 0;
}

void Connection::fail(std::string_view reason) {
  if (fd_ < 0) {
    return;
  }
  close();
  events_->on_failed(*this, reason);
}

void Connection::on_ready(std::uint32_t epoll_events) {
  if (fd_ < 0) {
    return;  // closed earlier in this batch of ready descriptors
  }
  if (state_ == State::tcp_connecting) {
    if (int error = socket_error(fd_); error != 0) {
      fail("connect: " + error_text(error));
      return;
    }
    if ((epoll_events & EPOLLOUT) == 0) {
      return;
    }
    on_tcp_connected();
    return;
  }
  if ((epoll_events & EPOLLOUT) != 0 && watching_write_) {
    flush();
  }
  if (fd_ >= 0 && (epoll_events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    read_available();
  }
}

void Connection::on_tcp_connected() {
  state_ = State::upgrading;
  out_ = std::move(request_);
  request_.clear();
  flush();
}

void Connection::flush() {
  switch (write_pending(fd_, out_, out_offset_)) {
    case WriteResult::done:
      if (watching_write_) {
        loop_.rewatch(fd_, *this, false);
        watching_write_ = false;
      }
      return;
    case WriteResult::would_block:
      if (!watching_write_) {
        loop_.rewatch(fd_, *this, true);
        watching_write_ = true;
      }
      return;
    case WriteResult::failed:
      fail("send: " + error_text(errno));
      return;
  }
}

void Connection::read_available() {
  for (;;) {
    ssize_t received = ::recv(fd_, read_buffer.data(), read_buffer.size(), 0);
    if (received > 0) {
      auto size = static_cast<std::size_t>(received);
      if (in_.empty()) {
        std::size_t used = consume(read_buffer.data(), size);
        if (fd_ < 0) {
          return;
        }
        in_.assign(read_buffer.data() + used, size - used);
      } else {
        in_.append(read_buffer.data(), size);
        std::size_t used = consume(in_.data(), in_.size());
        if (fd_ < 0) {
          return;
        }
        in_.erase(0, used);
      }
      if (size < read_buffer.size()) {
        return;  // drained; level-triggered epoll reports the next bytes
      }
    } else if (received == 0) {
      fail("closed by the server");
      return;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      return;
    } else {
      fail("recv: " + error_text(errno));
      return;
    }
  }
}

std::size_t Connection::consume_upgrade_response(const char* data, std::size_t size) {
  std::string_view bytes(data, size);
  std::size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (size > kMaxHttpHeadBytes) {
      fail("upgrade response head too long");
    }
    return 0;
  }
  std::string_view head = bytes.substr(0, head_end);
  if (!head.starts_with("HTTP/1.1 101")) {
    fail("upgrade refused: " + std::string(head.substr(0, head.find("\r\n"))));
    return 0;
  }
  if (header_value(head, "sec-websocket-accept") != expected_accept_) {
    fail("wrong Sec-WebSocket-Accept");
    return 0;
  }
  if (polling_sid_.empty()) {
    state_ = State::engine_opening;
  } else {
    state_ = State::probing;
    send_text("2probe");
  }
  return head_end + 4;
}

std::size_t Connection::consume(char* data, std::size_t size) {
  std::size_t position = 0;
  if (state_ == State::upgrading) {
    position = consume_upgrade_response(data, size);
    if (position == 0 || fd_ < 0) {
      return 0;
    }
  }
  while (size - position >= 2) {
    const auto* header = reinterpret_cast<const unsigned char*>(data + position);
    std::size_t available = size - position;
    bool final_frame = (header[0] & 0x80) != 0;
    unsigned opcode = header[0] & 0x0F;
    std::uint64_t length = header[1] & 0x7F;
    std::size_t header_size = 2;
    if (length == 126) {
      if (available < 4) {
        break;
      }
      length = (std::uint64_t{header[2]} << 8) | header[3];
      header_size = 4;
    } else if (length == 127) {
      if (available < 10) {
        break;
      }
      length = 0;
      for (int i = 2; i < 10; ++i) {
        length = (length << 8) | header[i];
      }
      header_size = 10;
    }
    if ((header[1] & 0x80) != 0) {
      fail("masked frame from the server");  // RFC 6455 §5.1
      return position;
    }
    if (length > kMaxMessageBytes) {
      fail("message over 1 MiB");
      return position;
    }
    if (available < header_size + length) {
      break;
    }
    std::string_view payload(data + position + header_size, static_cast<std::size_t>(length));
    position += header_size + static_cast<std::size_t>(length);
    if (!final_frame || opcode == 0x0) {
      fail("fragmented message (the scenarios' messages are small)");
      return position;
    }
    switch (opcode) {
      case 0x1:
        on_message(payload);
        break;
      case 0x8:
        fail("close frame from the server");
        break;
      case 0x9:
        send_frame(0xA, payload);
        break;
      case 0xA:
        break;
      default:
        fail("unexpected opcode " + std::to_string(opcode));
        break;
    }
    if (fd_ < 0) {
      return position;
    }
  }
  return position;
}

void Connection::on_message(std::string_view text) {
  if (text.empty()) {
    fail("empty Engine.IO packet");
    return;
  }
  switch (text[0]) {
    case '0':
      if (state_ != State::engine_opening) {
        fail("unexpected Engine.IO open");
        return;
      }
      state_ = State::namespace_connecting;
      send_text("40");
      return;
    case '1':
      fail("Engine.IO close from the server");
      return;
    case '2': {
      std::string pong(text);
      pong[0] = '3';
      send_text(pong);
      return;
    }
    case '3':
      if (state_ == State::probing && text == "3probe") {
        send_text("5");
        state_ = State::connected;
        events_->on_connected(*this);
        return;
      }
      fail("unexpected Engine.IO pong");
      return;
    case '4':
      on_socket_io_packet(text.substr(1));
      return;
    case '6':
      return;
    default:
      fail("unknown Engine.IO packet type");
      return;
  }
}

void Connection::on_socket_io_packet(std::string_view packet) {
  if (packet.empty()) {
    fail("empty Socket.IO packet");
    return;
  }
  char type = packet[0];
  std::string_view rest = packet.substr(1);
  if (!rest.empty() && rest[0] == '/') {
    fail("packet for another namespace");
    return;
  }
  // An event may carry an ack id, and an ack always does: the digits before the JSON array.
  std::uint64_t id = 0;
  auto [digits_end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), id);
  bool has_id = error == std::errc{};
  std::string_view args = rest.substr(static_cast<std::size_t>(digits_end - rest.data()));
  switch (type) {
    case '0':
      if (state_ != State::namespace_connecting) {
        fail("unexpected Socket.IO CONNECT");
        return;
      }
      state_ = State::connected;
      events_->on_connected(*this);
      return;
    case '1':
      fail("disconnected by the server");
      return;
    case '2':
      events_->on_event(*this, args);
      return;
    case '3':
      if (!has_id) {
        fail("ack without an id");
        return;
      }
      events_->on_ack(*this, id, args);
      return;
    case '4':
      fail("connect_error: " + std::string(rest));
      return;
    default:
      fail("unexpected Socket.IO packet type " + std::string(1, type));
      return;
  }
}

std::uint64_t Connection::emit(std::string_view args, bool want_ack) {
  static std::string packet;  // one thread: reused to keep the publisher's path allocation-free
  std::uint64_t id = want_ack ? next_ack_id_++ : 0;
  packet.assign("42");
  if (want_ack) {
    packet.append(std::to_string(id));
  }
  packet.append(args);
  send_text(packet);
  return id;
}

void Connection::send_frame(std::uint8_t opcode, std::string_view payload) {
  if (fd_ < 0) {
    return;
  }
  std::size_t size = payload.size();
  out_.push_back(static_cast<char>(0x80 | opcode));
  if (size < 126) {
    out_.push_back(static_cast<char>(0x80 | size));
  } else if (size < 65536) {
    out_.push_back(static_cast<char>(0x80 | 126));
    out_.push_back(static_cast<char>(size >> 8));
    out_.push_back(static_cast<char>(size & 0xFF));
  } else {
    out_.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      out_.push_back(static_cast<char>((size >> shift) & 0xFF));
    }
  }
  auto key = static_cast<std::uint32_t>(next_random());
  char mask[4];
  std::memcpy(mask, &key, 4);
  out_.append(mask, 4);
  std::size_t start = out_.size();
  out_.resize(start + size);
  for (std::size_t i = 0; i < size; ++i) {
    out_[start + i] = static_cast<char>(payload[i] ^ mask[i & 3]);
  }
  if (!watching_write_) {
    flush();
  }
}

// --- PollingHandshake ----------------------------------------------------------------------------

PollingHandshake::~PollingHandshake() { close(); }

void PollingHandshake::start(const ServerAddress& server) {
  server_ = server;
  int fd = connect_socket(server);
  if (fd < 0) {
    finish("connect: " + error_text(-fd));
    return;
  }
  fd_ = fd;
  loop_.watch(fd_, *this, true);
}

void PollingHandshake::close() {
  if (fd_ >= 0) {
    close_abortively(fd_);
    fd_ = -1;
  }
}

void PollingHandshake::finish(std::string_view error) {
  if (step_ == Step::done) {
    return;
  }
  step_ = Step::done;
  if (!error.empty()) {
    close();
  }
  done_(error);
}

void PollingHandshake::send_request(std::string_view method, std::string_view body) {
  out_.append(method).append(" /socket.io/?EIO=4&transport=polling");
  if (!sid_.empty()) {
    out_.append("&sid=").append(sid_);
  }
  out_.append(" HTTP/1.1\r\nHost: ").append(host_header(server_)).append("\r\n");
  if (!body.empty()) {
    out_.append("Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ").append(std::to_string(body.size()));
    out_.append("\r\n");
  }
  out_.append("\r\n").append(body);
  // The requests are tiny: a full socket buffer here would be a broken server.
  if (write_pending(fd_, out_, out_offset_) != WriteResult::done) {
    finish("cannot send the polling request");
  }
}

void PollingHandshake::on_ready(std::uint32_t epoll_events) {
  if (fd_ < 0 || step_ == Step::done) {
    return;
  }
  if (step_ == Step::connecting) {
    if (int error = socket_error(fd_); error != 0) {
      finish("connect: " + error_text(error));
      return;
    }
    if ((epoll_events & EPOLLOUT) == 0) {
      return;
    }
    loop_.rewatch(fd_, *this, false);
    step_ = Step::handshake;
    send_request("GET", {});
    return;
  }
  for (;;) {
    ssize_t received = ::recv(fd_, read_buffer.data(), read_buffer.size(), 0);
    if (received > 0) {
      in_.append(read_buffer.data(), static_cast<std::size_t>(received));
    } else if (received == 0) {
      finish("closed by the server");
      return;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      break;
    } else {
      finish("recv: " + error_text(errno));
      return;
    }
  }
  // Every complete response in order (a keep-alive connection answers one request at a time).
  while (step_ != Step::done) {
    std::size_t head_end = in_.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      if (in_.size() > kMaxHttpHeadBytes) {
        finish("polling response head too long");
      }
      return;
    }
    std::string_view head(in_.data(), head_end);
    if (!head.starts_with("HTTP/1.1 200")) {
      finish("polling request refused: " + std::string(head.substr(0, head.find("\r\n"))));
      return;
    }
    std::string_view length_text = header_value(head, "content-length");
    std::size_t length = 0;
    if (std::from_chars(length_text.data(), length_text.data() + length_text.size(), length).ec != std::errc{}) {
      finish("polling response without Content-Length");
      return;
    }
    if (in_.size() < head_end + 4 + length) {
      return;
    }
    std::string body = in_.substr(head_end + 4, length);
    in_.erase(0, head_end + 4 + length);
    on_response(body);
  }
}

void PollingHandshake::on_response(std::string_view body) {
  switch (step_) {
    case Step::handshake: {
      constexpr std::string_view kSidField = "\"sid\":\"";
      std::size_t start = body.find(kSidField);
      std::size_t end = start == std::string_view::npos ? start : body.find('"', start + kSidField.size());
      if (!body.starts_with('0') || end == std::string_view::npos) {
        finish("bad polling handshake: " + std::string(body.substr(0, 80)));
        return;
      }
      sid_ = body.substr(start + kSidField.size(), end - start - kSidField.size());
      step_ = Step::post_connect;
      send_request("POST", "40");
      return;
    }
    case Step::post_connect:
      step_ = Step::poll_connect;
      send_request("GET", {});
      return;
    case Step::poll_connect: {
      // A v4 payload: packets separated by the record separator 0x1E.
      std::size_t start = 0;
      while (start <= body.size()) {
        std::size_t end = body.find('\x1e', start);
        std::string_view packet = body.substr(start, end == std::string_view::npos ? body.npos : end - start);
        if (packet.starts_with("40")) {
          finish({});
          return;
        }
        if (packet.starts_with("44")) {
          finish("connect_error: " + std::string(packet));
          return;
        }
        if (end == std::string_view::npos) {
          break;
        }
        start = end + 1;
      }
      send_request("GET", {});  // only a noop or a ping so far
      return;
    }
    case Step::connecting:
    case Step::done:
      return;
  }
}

}  // namespace loadgen
