#include "eio/session.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "eio/proto/payload.h"
#include "net/shard_pool.h"

namespace iogate::eio {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

const SharedPacket& ping_packet() {
  static const SharedPacket packet = make_text_packet(PacketType::ping);
  return packet;
}
const SharedPacket& pong_packet() {
  static const SharedPacket packet = make_text_packet(PacketType::pong);
  return packet;
}
const SharedPacket& noop_packet() {
  static const SharedPacket packet = make_text_packet(PacketType::noop);
  return packet;
}
const SharedPacket& close_packet() {
  static const SharedPacket packet = make_text_packet(PacketType::close);
  return packet;
}

net::SharedFrame frame_of(const SharedPacket& packet) {
  // Aliasing constructor: shares ownership of the packet without another allocation.
  return net::SharedFrame(packet, &packet->frame);
}

}  // namespace

// ---- SessionTable ---------------------------------------------------------------------------

SessionTable::SessionTable(Server& server, std::size_t shard)
    : server_(server),
      shard_(shard),
      next_ping_(server.pool().context(shard), server.options().ping_interval),
      pong_wait_(server.pool().context(shard), server.options().ping_timeout),
      v3_ping_wait_(server.pool().context(shard), server.options().ping_interval + server.options().ping_timeout) {}

std::shared_ptr<Session> SessionTable::find(const std::string& sid) const {
  auto it = sessions_.find(sid);
  return it == sessions_.end() ? nullptr : it->second;
}

void SessionTable::add(std::shared_ptr<Session> session) {
  std::string_view id = session->id();
  sessions_.emplace(id, std::move(session));
}

void SessionTable::erase(const std::string& sid) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) {
    return;
  }
  // The key views the session's own id (often `sid` itself): the session goes last.
  auto session = std::move(it->second);
  sessions_.erase(it);
}

void SessionTable::close_all(std::string_view reason) {
  std::vector<std::shared_ptr<Session>> sessions;
  sessions.reserve(sessions_.size());
  for (auto& [sid, session] : sessions_) {
    sessions.push_back(session);
  }
  for (auto& session : sessions) {
    session->fail(reason);
  }
}

// ---- transports -----------------------------------------------------------------------------

class Session::WsTransport final : public net::WsHandler {
 public:
  explicit WsTransport(Session& session) : session_(session) {}
  void on_ws_message(bool binary, std::string_view payload) override { session_.on_ws_message(binary, payload); }
  void on_ws_closed() override { session_.fail("transport close"); }

 private:
  Session& session_;
};

class Session::ProbeTransport final : public net::WsHandler {
 public:
  explicit ProbeTransport(Session& session) : session_(session) {}
  void on_ws_message(bool binary, std::string_view payload) override { session_.on_probe_message(binary, payload); }
  void on_ws_closed() override { session_.on_probe_closed(); }

 private:
  Session& session_;
};

// ---- Session --------------------------------------------------------------------------------

Session::Session(SessionTable& table, std::string sid, Revision revision, Transport transport,
                 Handshake handshake, bool supports_binary)
    : table_(table),
      sid_(std::move(sid)),
      revision_(revision),
      transport_(transport),
      handshake_(std::make_shared<const Handshake>(std::move(handshake))),
      supports_binary_(supports_binary) {}

Session::~Session() = default;

asio::io_context& Session::context() noexcept { return table_.server().pool().context(table_.shard()); }

void Session::open(const std::shared_ptr<net::HttpConnection>& handshake_request, const net::HttpRequest& request,
                   const std::shared_ptr<net::WsConnection>& websocket) {
  const auto& options = table_.server().options();
  std::string open_json = R"({"sid":")" + sid_ + R"(","upgrades":[)";
  if (transport_ == Transport::polling && options.allow_upgrades && options.allow_websocket) {
    open_json += R"("websocket")";
  }
  open_json += R"(],"pingInterval":)" + std::to_string(options.ping_interval.count()) +
               R"(,"pingTimeout":)" + std::to_string(options.ping_timeout.count()) +
               R"(,"maxPayload":)" + std::to_string(options.max_http_buffer_size) + "}";
  auto open_packet = make_text_packet(PacketType::open, open_json);

  if (transport_ == Transport::websocket) {
    websocket_ = websocket;
    ws_transport_ = std::make_unique<WsTransport>(*this);
    websocket_->start(ws_transport_.get());
    websocket_->send(frame_of(open_packet));
  } else {
    net::HttpResponse response;
    add_headers(request, response.headers);
    if (options.cookie) {
      response.headers.emplace_back("Set-Cookie", *options.cookie + "=" + sid_ + "; Path=/; HttpOnly; SameSite=Lax");
    }
    std::vector<SharedPacket> packets{open_packet};
    std::string body;
    if (revision_ == Revision::v4) {
      encode_payload_v4(packets, body);
    } else {
      encode_payload_v3_text(packets, body);
    }
    response.headers.emplace_back("Content-Type", "text/plain; charset=UTF-8");
    response.body = std::move(body);
    handshake_request->respond(std::move(response));
  }

  if (revision_ == Revision::v4) {
    schedule_ping();
  } else {
    reset_v3_timeout();
  }
  handler_ = table_.server().connection_factory()(*this);
}

void Session::add_headers(const net::HttpRequest& request, net::NameValueList& headers) const {
  headers.emplace_back("cache-control", "no-store");
  add_cors_headers(table_.server().options().cors, request, headers);
}

// ---- sending --------------------------------------------------------------------------------

void Session::send(const SharedPacket& packet) {
  if (closed_ || closing_) {
    return;
  }
  if (transport_ == Transport::websocket) {
    send_on_websocket(packet);
    return;
  }
  // A polling client that stops fetching is cut off rather than allowed to grow the buffer.
  buffered_bytes_ += packet->frame.size();
  if (buffered_bytes_ > 4 * table_.server().options().max_http_buffer_size + (1 << 20)) {
    // Deferred: a broadcast may be walking the room this session's sockets are in.
    closing_ = true;
    asio::post(context(), [self = shared_from_this()] { self->fail("transport error"); });
    return;
  }
  write_buffer_.push_back(packet);
  if (pending_poll_) {
    schedule_poll_flush();
  }
}

void Session::send_on_websocket(const SharedPacket& packet) {
  if (packet->binary && revision_ == Revision::v3) {
    std::string frame;
    append_v3_binary_frame(*packet, frame);
    websocket_->send(std::move(frame));
    return;
  }
  websocket_->send(frame_of(packet));
}

bool Session::writable() const noexcept {
  if (closed_ || closing_) {
    return false;
  }
  if (transport_ == Transport::websocket) {
    return websocket_ && websocket_->writable();
  }
  return pending_poll_ != nullptr && write_buffer_.empty();
}

// Packets sent in the same loop turn are answered in one poll response.
void Session::schedule_poll_flush() {
  if (poll_flush_scheduled_) {
    return;
  }
  poll_flush_scheduled_ = true;
  asio::post(context(), [self = shared_from_this()] {
    self->poll_flush_scheduled_ = false;
    self->flush_poll();
  });
}

void Session::flush_poll() {
  if (!pending_poll_ || write_buffer_.empty()) {
    return;
  }
  std::vector<SharedPacket> packets;
  packets.swap(write_buffer_);
  buffered_bytes_ = 0;
  answer_poll(packets);
  if (closing_) {
    finish("forced close");
  }
}

void Session::answer_poll(const std::vector<SharedPacket>& packets) {
  auto connection = std::move(pending_poll_);
  pending_poll_.reset();
  net::HttpResponse response;
  response.headers = std::move(pending_poll_headers_);
  pending_poll_headers_.clear();
  if (revision_ == Revision::v4) {
    encode_payload_v4(packets, response.body);
    response.headers.emplace_back("Content-Type", "text/plain; charset=UTF-8");
  } else if (v3_needs_binary_payload(packets, !supports_binary_)) {
    encode_payload_v3_binary(packets, response.body);
    response.headers.emplace_back("Content-Type", "application/octet-stream");
  } else {
    encode_payload_v3_text(packets, response.body);
    response.headers.emplace_back("Content-Type", "text/plain; charset=UTF-8");
  }
  connection->respond(std::move(response));
}

// ---- polling requests -----------------------------------------------------------------------

void Session::on_poll(const std::shared_ptr<net::HttpConnection>& connection, const net::HttpRequest& request) {
  if (pending_poll_) {
    // Two GETs at once: refuse the second and end the session; the first then gets "1".
    net::HttpResponse refusal{.status = 400, .headers = {}, .body = {}, .close = false};
    add_cors_headers(table_.server().options().cors, request, refusal.headers);
    connection->respond(std::move(refusal));
    fail("transport error");
    return;
  }
  pending_poll_ = connection;
  pending_poll_headers_.clear();
  add_headers(request, pending_poll_headers_);
  connection->on_abort([weak = weak_from_this()] {
    if (auto self = weak.lock()) {
      self->pending_poll_.reset();
      self->fail("transport close");
    }
  });
  if (!write_buffer_.empty()) {
    schedule_poll_flush();
  } else if (upgrade_state_ == UpgradeState::probed) {
    check_upgrade_noop();
  }
}

void Session::on_data(const std::shared_ptr<net::HttpConnection>& connection, const net::HttpRequest& request) {
  const auto& options = table_.server().options();
  net::HttpResponse response;
  add_cors_headers(options.cors, request, response.headers);
  const std::string* content_type = request.header("content-type");
  bool binary_body = content_type != nullptr && *content_type == "application/octet-stream";
  if (binary_body && revision_ == Revision::v4) {
    response.status = 400;
    connection->respond(std::move(response));
    fail("transport error");
    return;
  }
  if (request.body.size() > options.max_http_buffer_size) {
    response.status = 413;
    connection->respond(std::move(response));
    return;
  }
  auto self = shared_from_this();
  bool stopped_by_close = false;
  auto deliver = [&](const PacketView& packet) {
    if (packet.type == PacketType::close) {
      stopped_by_close = true;
      return false;
    }
    on_packet(packet);
    return !closed_;
  };
  bool well_formed = revision_ == Revision::v4 ? decode_payload_v4(request.body, deliver)
                     : binary_body            ? decode_payload_v3_binary(request.body, deliver)
                                              : decode_payload_v3_text(request.body, deliver);
  response.headers.emplace_back("Content-Type", "text/html");
  response.body = "ok";
  connection->respond(std::move(response));
  if (!well_formed) {
    fail("parse error");
  } else if (stopped_by_close) {
    // The client closed: its pending poll is released with a noop.
    if (pending_poll_) {
      answer_poll({noop_packet()});
    }
    fail("transport close");
  }
}

// ---- packets --------------------------------------------------------------------------------

void Session::on_packet(const PacketView& packet) {
  if (closed_ || closing_) {
    return;
  }
  switch (packet.type) {
    case PacketType::ping:
      if (revision_ == Revision::v4) {
        fail("invalid heartbeat direction");
        return;
      }
      reset_v3_timeout();
      send(packet.data.empty() ? pong_packet() : make_text_packet(PacketType::pong, packet.data));
      return;
    case PacketType::pong:
      if (revision_ == Revision::v3) {
        fail("invalid heartbeat direction");
        return;
      }
      if (awaiting_pong_) {
        awaiting_pong_ = false;
        schedule_ping();
      }
      return;
    case PacketType::message:
      if (handler_) {
        handler_->on_message(packet.data, packet.binary);
      }
      return;
    case PacketType::close:
      fail("transport close");
      return;
    case PacketType::open:
    case PacketType::upgrade:
    case PacketType::noop:
      return;
  }
}

void Session::on_ws_message(bool binary, std::string_view payload) {
  auto packet = binary ? decode_binary_frame(payload, revision_) : decode_text_packet(payload);
  if (!packet) {
    fail("parse error");
    return;
  }
  on_packet(*packet);
}

// ---- heartbeat ------------------------------------------------------------------------------

void Session::Heartbeat::on_expired() {
  // The session may end inside the call: keep it alive until the call returns.
  auto self = session_.shared_from_this();
  self->on_heartbeat_timer();
}

void Session::schedule_ping() { table_.next_ping().arm(heartbeat_); }

void Session::on_heartbeat_timer() {
  if (closed_) {
    return;
  }
  if (closing_) {
    fail("forced close");  // a polling close whose last poll never came
    return;
  }
  if (revision_ == Revision::v3 || awaiting_pong_) {
    fail("ping timeout");
    return;
  }
  awaiting_pong_ = true;
  send(ping_packet());
  table_.pong_wait().arm(heartbeat_);
}

// v3: the client pings; the session ends if no ping comes within interval + timeout.
void Session::reset_v3_timeout() { table_.v3_ping_wait().arm(heartbeat_); }

// ---- upgrade --------------------------------------------------------------------------------

void Session::on_upgrade_websocket(const std::shared_ptr<net::WsConnection>& websocket) {
  if (closed_ || closing_ || upgrade_state_ != UpgradeState::none || transport_ == Transport::websocket) {
    websocket->start(nullptr);
    websocket->close();
    return;
  }
  probe_ = websocket;
  probe_transport_ = std::make_unique<ProbeTransport>(*this);
  upgrade_state_ = UpgradeState::probing;
  probe_->start(probe_transport_.get());
  upgrade_timers_ = std::make_unique<UpgradeTimers>(context());
  upgrade_timers_->timeout.expires_after(table_.server().options().upgrade_timeout);
  upgrade_timers_->timeout.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (auto self = weak.lock(); self && !ec) {
      self->abort_upgrade();
    }
  });
}

void Session::on_probe_message(bool binary, std::string_view payload) {
  auto packet = binary ? decode_binary_frame(payload, revision_) : decode_text_packet(payload);
  if (packet && upgrade_state_ == UpgradeState::probing && packet->type == PacketType::ping &&
      packet->data == "probe") {
    probe_->send(frame_of(make_text_packet(PacketType::pong, "probe")));
    upgrade_state_ = UpgradeState::probed;
    check_upgrade_noop();
    return;
  }
  if (packet && upgrade_state_ == UpgradeState::probed && packet->type == PacketType::upgrade) {
    finish_upgrade();
    return;
  }
  abort_upgrade();
}

// While probed, a pending poll is answered with a noop so the client's last poll returns.
void Session::check_upgrade_noop() {
  if (upgrade_state_ != UpgradeState::probed || closed_) {
    return;
  }
  if (pending_poll_ && write_buffer_.empty()) {
    answer_poll({noop_packet()});
  }
  if (!upgrade_timers_) {
    return;
  }
  upgrade_timers_->noop.expires_after(100ms);
  upgrade_timers_->noop.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (auto self = weak.lock(); self && !ec) {
      self->check_upgrade_noop();
    }
  });
}

void Session::finish_upgrade() {
  upgrade_timers_.reset();
  upgrade_state_ = UpgradeState::none;
  if (pending_poll_) {
    answer_poll({noop_packet()});
  }
  websocket_ = std::move(probe_);
  ws_transport_ = std::make_unique<WsTransport>(*this);
  websocket_->set_handler(ws_transport_.get());
  // The probe handler may be running this very call: free it in a later turn.
  asio::post(context(), [transport = std::move(probe_transport_)] {});
  transport_ = Transport::websocket;
  upgraded_ = true;
  std::vector<SharedPacket> packets;
  packets.swap(write_buffer_);
  buffered_bytes_ = 0;
  for (const auto& packet : packets) {
    send_on_websocket(packet);
  }
  if (closing_) {
    finish("forced close");
  }
}

void Session::abort_upgrade() {
  if (upgrade_state_ == UpgradeState::none) {
    return;
  }
  upgrade_state_ = UpgradeState::none;
  upgrade_timers_.reset();
  if (probe_) {
    auto probe = std::move(probe_);
    probe->set_handler(nullptr);
    probe->close();
  }
  asio::post(context(), [transport = std::move(probe_transport_)] {});
}

void Session::on_probe_closed() {
  if (upgrade_state_ != UpgradeState::none) {
    upgrade_state_ = UpgradeState::none;
    upgrade_timers_.reset();
    probe_.reset();
  }
}

// ---- closing --------------------------------------------------------------------------------

void Session::close() {
  if (closed_ || closing_) {
    return;
  }
  if (transport_ == Transport::websocket) {
    finish("forced close");
    return;
  }
  // Polling: the buffered packets and a close packet go out with the next poll.
  write_buffer_.push_back(close_packet());
  closing_ = true;
  if (pending_poll_) {
    schedule_poll_flush();
  } else {
    table_.pong_wait().arm(heartbeat_);  // expiring while closing_: "forced close"
  }
}

void Session::fail(std::string_view reason) {
  if (closed_) {
    return;
  }
  write_buffer_.clear();
  buffered_bytes_ = 0;
  if (pending_poll_) {
    answer_poll({close_packet()});
  }
  finish(reason);
}

void Session::finish(std::string_view reason) {
  if (closed_) {
    return;
  }
  closed_ = true;
  heartbeat_.disarm();
  upgrade_timers_.reset();
  if (pending_poll_) {
    answer_poll({close_packet()});
  }
  if (probe_) {
    probe_->set_handler(nullptr);
    probe_->close();
    probe_.reset();
  }
  if (websocket_) {
    websocket_->set_handler(nullptr);
    websocket_->close();
  }
  auto self = shared_from_this();
  table_.erase(sid_);
  if (handler_) {
    auto handler = std::move(handler_);
    handler->on_close(reason);
    // Free transports and handler after every callback of this turn has returned.
    asio::post(context(), [self, handler = std::move(handler)] {});
  }
}

}  // namespace iogate::eio
