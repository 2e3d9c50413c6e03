#include "net/http_connection.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <cerrno>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "net/shard_pool.h"
#include "net/ws/frame.h"
#include "net/ws_connection.h"

namespace iogate::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

void Router::add(std::string prefix, RequestHandler* handler) {
  routes_.emplace_back(std::move(prefix), handler);
  std::stable_sort(routes_.begin(), routes_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

RequestHandler* Router::find(std::string_view path) const noexcept {
  for (const auto& [prefix, handler] : routes_) {
    if (path.starts_with(prefix)) {
      return handler;
    }
  }
  return nullptr;
}

namespace {

bool contains_token(std::string_view value, std::string_view token) {
  auto lower = [](unsigned char c) { return static_cast<char>(std::tolower(c)); };
  std::string haystack(value.size(), '\0');
  std::transform(value.begin(), value.end(), haystack.begin(), lower);
  return haystack.find(token) != std::string::npos;
}

bool is_websocket_upgrade(const HttpRequest& request) {
  const std::string* upgrade = request.header("upgrade");
  const std::string* connection = request.header("connection");
  return upgrade != nullptr && connection != nullptr && contains_token(*upgrade, "websocket") &&
         contains_token(*connection, "upgrade");
}

}  // namespace

struct HttpConnection::ParserState {
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::string_body>> parser;

  std::string take_buffered() {
    auto data = buffer.data();
    std::string bytes(static_cast<const char*>(data.data()), data.size());
    buffer.consume(buffer.size());
    return bytes;
  }
};

HttpConnection::HttpConnection(tcp::socket socket, std::size_t shard, HttpContext& context)
    : socket_(std::move(socket)),
      shard_(shard),
      context_(context),
      parser_(std::make_unique<ParserState>()),
      idle_timer_(socket_.get_executor()) {}

HttpConnection::~HttpConnection() = default;

void HttpConnection::start(std::string buffered) {
  if (!buffered.empty()) {
    auto space = parser_->buffer.prepare(buffered.size());
    std::memcpy(space.data(), buffered.data(), buffered.size());
    parser_->buffer.commit(buffered.size());
  }
  boost::system::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  read_header();
}

void HttpConnection::resume(HttpRequest request, std::string buffered) {
  if (!buffered.empty()) {
    auto space = parser_->buffer.prepare(buffered.size());
    std::memcpy(space.data(), buffered.data(), buffered.size());
    parser_->buffer.commit(buffered.size());
  }
  request_ = std::move(request);
  dispatch();
}

void HttpConnection::arm_idle_timer() {
  idle_timer_.expires_after(context_.settings.idle_timeout);
  idle_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) {
      return;
    }
    if (auto self = weak.lock(); self && !self->awaiting_response_) {
      self->shut();
    }
  });
}

void HttpConnection::read_header() {
  if (closed_) {
    return;
  }
  auto& parser = parser_->parser.emplace();
  parser.header_limit(static_cast<std::uint32_t>(context_.settings.max_header_size));
  parser.body_limit(context_.settings.max_body_size);
  arm_idle_timer();
  http::async_read_header(socket_, parser_->buffer, parser,
                          [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                            if (ec) {
                              if (ec == http::error::header_limit) {
                                self->fail_fast(431, "");
                              } else if (ec == http::error::body_limit) {
                                self->fail_fast(413, "");
                              } else if (ec != asio::error::operation_aborted && ec != http::error::end_of_stream) {
                                self->fail_fast(400, "");
                              } else {
                                self->shut();
                              }
                              return;
                            }
                            self->on_header(bytes);
                          });
}

void HttpConnection::on_header(std::size_t) {
  auto& parser = *parser_->parser;
  const auto& head = parser.get();
  request_ = HttpRequest{};
  switch (head.method()) {
    case http::verb::get: request_.method = Method::get; break;
    case http::verb::post: request_.method = Method::post; break;
    case http::verb::options: request_.method = Method::options; break;
    case http::verb::head: request_.method = Method::head; break;
    default: request_.method = Method::other; break;
  }
  request_.target.assign(head.target().data(), head.target().size());
  request_.version = head.version();
  request_.keep_alive = head.keep_alive();
  for (const auto& field : head) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    request_.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  request_.websocket_upgrade = request_.method == Method::get && is_websocket_upgrade(request_);
  boost::system::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) {
    request_.remote_address = remote.address().to_string();
  }
  if (parser.content_length() && *parser.content_length() > context_.settings.max_body_size) {
    fail_fast(413, "");
    return;
  }
  if (request_.websocket_upgrade || parser.is_done()) {
    dispatch();
    return;
  }
  read_body();
}

void HttpConnection::read_body() {
  http::async_read(socket_, parser_->buffer, *parser_->parser,
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     if (ec) {
                       if (ec == http::error::body_limit) {
                         self->fail_fast(413, "");
                       } else {
                         self->shut();
                       }
                       return;
                     }
                     self->request_.body = self->parser_->parser->release().body();
                     self->dispatch();
                   });
}

void HttpConnection::dispatch() {
  idle_timer_.cancel();
  if (!parse_target(request_.target, request_.path, request_.query)) {
    fail_fast(400, "");
    return;
  }
  RequestHandler* handler = context_.router.find(request_.path);
  if (handler == nullptr) {
    HttpResponse response{.status = 404, .headers = {{"Content-Type", "text/plain"}}, .body = "Not Found"};
    awaiting_response_ = true;
    respond(std::move(response));
    return;
  }
  std::size_t owner = handler->shard_for(request_, shard_);
  if (owner != shard_ && owner < context_.pool.size()) {
    route(owner);
    return;
  }
  awaiting_response_ = true;
  handler->on_request(shared_from_this(), request_);
  if (awaiting_response_ && !closed_) {
    watch_for_abort();
  }
}

// The session this request belongs to lives on another shard: hand the socket itself over,
// with the parsed request and any bytes read past it, so the owner serves it and the rest of
// the keep-alive connection.
void HttpConnection::route(std::size_t target_shard) {
  idle_timer_.cancel();
  boost::system::error_code ec;
  auto protocol = socket_.local_endpoint(ec).protocol();
  if (ec) {
    shut();
    return;
  }
  auto native = socket_.release(ec);
  if (ec) {
    shut();
    return;
  }
  closed_ = true;
  context_.pool.post(target_shard, [&context = context_, target_shard, protocol, native,
                                    request = std::move(request_),
                                    buffered = parser_->take_buffered()]() mutable {
    boost::system::error_code assign_error;
    tcp::socket socket(context.pool.context(target_shard));
    socket.assign(protocol, native, assign_error);
    if (assign_error) {
      ::close(native);
      return;
    }
    auto connection = std::make_shared<HttpConnection>(std::move(socket), target_shard, context);
    connection->resume(std::move(request), std::move(buffered));
  });
}

void HttpConnection::watch_for_abort() {
  std::uint64_t generation = ++abort_watch_generation_;
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this(), generation](boost::system::error_code ec) {
    if (!self->awaiting_response_ || self->closed_ || generation != self->abort_watch_generation_) {
      return;
    }
    bool gone = static_cast<bool>(ec);
    if (!gone) {
      // Never a blocking read on a shard: peek without waiting.
      char probe = 0;
      ssize_t peeked = ::recv(self->socket_.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
      if (peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        gone = true;
      } else if (peeked < 0) {
        self->watch_for_abort();
        return;
      }
    }
    if (gone) {
      // The client gave up on the pending response (an aborted long-poll).
      self->awaiting_response_ = false;
      if (auto callback = std::move(self->abort_callback_)) {
        callback();
      }
      self->shut();
    }
  });
}

void HttpConnection::respond(HttpResponse response) {
  if (!awaiting_response_ || closed_) {
    return;
  }
  awaiting_response_ = false;
  abort_callback_ = nullptr;
  bool keep_alive = request_.keep_alive && !response.close;
  write_buffer_.clear();
  serialize_response(response, keep_alive, write_buffer_);
  asio::async_write(socket_, asio::buffer(write_buffer_),
                    [self = shared_from_this(), keep_alive](boost::system::error_code ec, std::size_t) {
                      self->finish_write(ec || !keep_alive);
                    });
}

void HttpConnection::finish_write(bool close_after) {
  if (close_after) {
    shut();
    return;
  }
  read_header();
}

void HttpConnection::fail_fast(unsigned status, std::string body) {
  awaiting_response_ = true;
  respond(HttpResponse{.status = status, .headers = {}, .body = std::move(body), .close = true});
}

void HttpConnection::reject_upgrade(std::string_view message) {
  if (!awaiting_response_ || closed_) {
    return;
  }
  awaiting_response_ = false;
  write_buffer_.assign("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\nContent-Length: ");
  write_buffer_.append(std::to_string(message.size())).append("\r\n\r\n").append(message);
  asio::async_write(socket_, asio::buffer(write_buffer_),
                    [self = shared_from_this()](boost::system::error_code, std::size_t) { self->shut(); });
}

std::shared_ptr<WsConnection> HttpConnection::accept_websocket(const HttpRequest& request,
                                                               std::size_t max_message_size) {
  const std::string* key = request.header("sec-websocket-key");
  const std::string* version = request.header("sec-websocket-version");
  if (!awaiting_response_ || closed_ || key == nullptr || key->empty() || version == nullptr ||
      (*version != "13" && *version != "8")) {
    return nullptr;
  }
  awaiting_response_ = false;
  idle_timer_.cancel();
  std::string handshake =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  handshake.append(ws::compute_accept_key(*key)).append("\r\n\r\n");
  closed_ = true;
  return std::make_shared<WsConnection>(std::move(socket_), shard_, max_message_size, std::move(handshake),
                                        parser_->take_buffered());
}

void HttpConnection::shut() {
  if (closed_ && !socket_.is_open()) {
    return;
  }
  closed_ = true;
  awaiting_response_ = false;
  idle_timer_.cancel();
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace iogate::net
