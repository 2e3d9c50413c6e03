#include "sio/socket.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "sio/adapter.h"
#include "sio/broadcast_operator.h"
#include "sio/client.h"
#include "sio/namespace.h"

namespace iogate::sio {

namespace json = boost::json;

namespace {


}  // namespace

struct Socket::AckTimer {
  explicit AckTimer(boost::asio::io_context& context) : timer(context) {}
  boost::asio::steady_timer timer;
};

Socket::Socket(Client& client, Namespace& nsp, ShardNamespace& shard_nsp, std::string id, json::value auth)
    : client_(&client),
      handshake_(client.connection().handshake()),
      context_(client.connection().context()),
      shard_(client.connection().shard()),
      nsp_(nsp),
      shard_nsp_(shard_nsp),
      id_(std::move(id)),
      auth_(std::move(auth)) {}

Socket::~Socket() = default;

const eio::Handshake& Socket::handshake() const noexcept { return *handshake_; }

std::size_t Socket::shard() const noexcept { return shard_; }


boost::asio::io_context& Socket::context() noexcept { return context_; }

Socket::Listeners& Socket::listeners() {
  if (!listeners_) {
    listeners_ = std::make_unique<Listeners>();
  }
  return *listeners_;
}

const Socket::Listeners& Socket::heard() const noexcept {
  static const Listeners none;
  return listeners_ ? *listeners_ : none;
}

void Socket::on(std::string event, EventHandler handler) {
  listeners().events.emplace_back(std::move(event), std::move(handler));
}

bool Socket::in_room(std::string_view room) const noexcept {
  for (const auto& joined : rooms_) {
    if (joined == room) {
      return true;
    }
  }
  return false;
}

void Socket::join(const std::string& room) {
  if (!connected_ || in_room(room)) {
    return;
  }
  rooms_.push_back(room);
  shard_nsp_.join(*this, room);
}

void Socket::join(const std::vector<std::string>& rooms) {
  for (const auto& room : rooms) {
    join(room);
  }
}

void Socket::leave(const std::string& room) {
  auto it = std::find(rooms_.begin(), rooms_.end(), room);
  if (it == rooms_.end()) {
    return;
  }
  rooms_.erase(it);
  shard_nsp_.leave(*this, room);
}

BroadcastOperator Socket::to(std::string room) { return broadcast().to(std::move(room)); }

BroadcastOperator Socket::to(std::vector<std::string> rooms) { return broadcast().to(rooms); }

BroadcastOperator Socket::broadcast() { return BroadcastOperator(nsp_, BroadcastOptions{{}, {id_}, {}}); }

void Socket::on_any_outgoing(OutgoingHandler handler) {
  if (heard().outgoing.empty()) {
    nsp_.outgoing_watchers_.fetch_add(1, std::memory_order_relaxed);
  }
  listeners().outgoing.push_back(std::move(handler));
}

void Socket::notify_outgoing(const Packet& packet) {
  const auto* data = packet.data.if_array();
  if (heard().outgoing.empty() || data == nullptr || data->empty()) {
    return;
  }
  const auto& name = data->front();
  Payload payload;
  payload.args = boost::json::array(data->begin() + 1, data->end());
  payload.attachments = packet.attachments;
  notify_outgoing(name.is_string() ? std::string_view(name.as_string()) : std::string_view(), payload);
}

void Socket::notify_outgoing(std::string_view event, const Payload& payload) {
  // As in dispatch(): hooks added by a hook wait for the next event.
  const std::size_t count = heard().outgoing.size();
  for (std::size_t i = 0; i < count; ++i) {
    auto handler = heard().outgoing[i];
    handler(*this, event, payload);
  }
}

void Socket::send_packet(Packet& packet, bool is_volatile) {
  if (!connected_) {
    return;
  }
  client_->write(packet, is_volatile);
}

void Socket::emit(std::string_view event, Payload payload, bool is_volatile) {
  if (!connected_) {
    return;
  }
  if (!heard().outgoing.empty()) {
    notify_outgoing(event, payload);
  }
  auto packet = make_event_packet(nsp_.name(), event, std::move(payload));
  send_packet(packet, is_volatile);
}

void Socket::emit_with_ack(std::string_view event, Payload payload, std::chrono::milliseconds timeout,
                           AckHandler handler) {
  if (!connected_) {
    return;
  }
  if (!heard().outgoing.empty()) {
    notify_outgoing(event, payload);
  }
  auto packet = make_event_packet(nsp_.name(), event, std::move(payload));
  packet.id = nsp_.next_ack_id();
  register_ack(*packet.id, std::move(handler));
  auto& ack_timer = pending_acks_.back().timer;
  ack_timer = std::make_unique<AckTimer>(context_);
  ack_timer->timer.expires_after(timeout);
  ack_timer->timer.async_wait([weak = weak_from_this(), id = *packet.id](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) {
      return;
    }
    auto it = std::find_if(self->pending_acks_.begin(), self->pending_acks_.end(),
                           [id](const PendingAck& pending) { return pending.id == id; });
    if (it == self->pending_acks_.end()) {
      return;
    }
    auto expired = std::move(it->handler);
    self->pending_acks_.erase(it);
    expired(std::nullopt);
  });
  send_packet(packet);
}

void Socket::forget_ack(std::uint64_t id) {
  std::erase_if(pending_acks_, [id](const PendingAck& pending) { return pending.id == id; });
}

void Socket::register_ack(std::uint64_t id, AckHandler handler) {
  pending_acks_.push_back(PendingAck{id, std::move(handler), nullptr});
}

void Socket::on_packet(Packet& packet) {
  switch (packet.type) {
    case PacketType::event:
    case PacketType::binary_event: {
      auto event = std::make_shared<Event>();
      auto& args = packet.data.as_array();
      const auto& name = args.front();
      event->name = name.is_string() ? std::string(name.as_string()) : json::serialize(name);
      event->payload.args.reserve(args.size() - 1);
      for (std::size_t i = 1; i < args.size(); ++i) {
        event->payload.args.push_back(std::move(args[i]));
      }
      event->payload.attachments = std::move(packet.attachments);
      if (packet.id) {
        event->ack = [weak = weak_from_this(), id = *packet.id, answered = false](Payload reply) mutable {
          auto self = weak.lock();
          if (answered || !self || !self->connected_) {
            return;
          }
          answered = true;
          Packet ack{.type = PacketType::ack, .nsp = self->nsp_.name(), .id = id, .data = std::move(reply.args),
                     .attachments = std::move(reply.attachments)};
          self->send_packet(ack);
        };
      }
      run_middlewares(0, std::move(event));
      return;
    }
    case PacketType::ack:
    case PacketType::binary_ack:
      on_ack(packet);
      return;
    case PacketType::disconnect: {
      auto keep = shared_from_this();
      on_close("client namespace disconnect");
      return;
    }
    case PacketType::connect:
    case PacketType::connect_error:
      return;
  }
}

void Socket::run_middlewares(std::size_t index, std::shared_ptr<Event> event) {
  if (!connected_) {
    return;
  }
  if (index == heard().middlewares.size()) {
    dispatch(*event);
    return;
  }
  // A copy: the middleware may add middlewares.
  auto middleware = heard().middlewares[index];
  middleware(*this, *event, [weak = weak_from_this(), index, event](std::optional<std::string> error) {
    auto self = weak.lock();
    if (!self) {
      return;
    }
    if (error) {
      self->report_error(*error);
      return;
    }
    self->run_middlewares(index + 1, event);
  });
}

void Socket::dispatch(Event& event) {
  auto keep = shared_from_this();
  // Handlers may add handlers (after a login, say): those wait for the next event, as in Node,
  // and each handler runs from a copy since an addition may reallocate the vector under it.
  // An exception from application code must not unwind into the event loop: it becomes an
  // error for this socket's on_error handlers.
  try {
    const std::size_t any_count = heard().any.size();
    for (std::size_t i = 0; i < any_count; ++i) {
      auto handler = heard().any[i];
      handler(*this, event);
    }
    const std::size_t count = heard().events.size();
    for (std::size_t i = 0; i < count; ++i) {
      if (heard().events[i].first == event.name && connected_) {
        auto handler = heard().events[i].second;
        handler(*this, event);
      }
    }
    // Fixed once serving: no copy needed.
    for (const auto& [name, handler] : nsp_.event_handlers_) {
      if (name == event.name && connected_) {
        handler(*this, event);
      }
    }
  } catch (const std::exception& error) {
    report_error(std::string("handler for '") + event.name + "' failed: " + error.what());
  }
}

void Socket::report_error(const std::string& message) {
  const std::size_t count = heard().errors.size();
  for (std::size_t i = 0; i < count; ++i) {
    auto handler = heard().errors[i];
    handler(*this, message);
  }
}

void Socket::on_ack(Packet& packet) {
  if (!packet.id) {
    return;
  }
  auto it = std::find_if(pending_acks_.begin(), pending_acks_.end(),
                         [id = *packet.id](const PendingAck& pending) { return pending.id == id; });
  if (it == pending_acks_.end()) {
    return;
  }
  auto handler = std::move(it->handler);
  pending_acks_.erase(it);
  Payload reply;
  reply.args = std::move(packet.data.as_array());
  reply.attachments = std::move(packet.attachments);
  handler(std::move(reply));
}

void Socket::disconnect(bool close) {
  if (!connected_) {
    return;
  }
  auto keep = shared_from_this();
  if (close) {
    client_->disconnect();
    return;
  }
  Packet packet{.type = PacketType::disconnect, .nsp = nsp_.name(), .id = std::nullopt, .data = nullptr,
                .attachments = {}};
  send_packet(packet);
  on_close("server namespace disconnect");
}

void Socket::on_close(std::string_view reason) {
  if (!connected_ || closing_) {
    return;
  }
  closing_ = true;
  auto keep = shared_from_this();
  std::string why(reason);
  for (std::size_t i = 0, count = heard().disconnecting.size(); i < count; ++i) {
    auto handler = heard().disconnecting[i];
    handler(*this, why);
  }
  connected_ = false;
  for (const auto& room : rooms_) {
    shard_nsp_.leave(*this, room);
  }
  rooms_.clear();
  shard_nsp_.remove(*this);
  // Acks that can no longer come are answered as timed out, in a later turn.
  for (auto& pending : pending_acks_) {
    boost::asio::post(context_, [self = shared_from_this(), handler = std::move(pending.handler)] {
      try {
        handler(std::nullopt);
      } catch (const std::exception& error) {
        self->report_error(std::string("ack handler failed: ") + error.what());
      }
    });
  }
  pending_acks_.clear();
  if (!heard().outgoing.empty()) {
    nsp_.outgoing_watchers_.fetch_sub(1, std::memory_order_relaxed);
  }
  client_->remove(*this);
  for (std::size_t i = 0, count = heard().disconnect.size(); i < count; ++i) {
    auto handler = heard().disconnect[i];
    handler(*this, why);
  }
}

SocketInfo Socket::info() const {
  const auto& hs = handshake();
  json::object headers;
  for (const auto& [name, value] : hs.headers) {
    headers[name] = value;
  }
  json::object query;
  for (const auto& [name, value] : hs.query) {
    query[name] = value;
  }
  auto issued = std::chrono::duration_cast<std::chrono::milliseconds>(hs.time.time_since_epoch()).count();
  std::time_t seconds = std::chrono::system_clock::to_time_t(hs.time);
  char date[64];
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  std::strftime(date, sizeof date, "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", &tm);
  json::object handshake_object{
      {"headers", std::move(headers)}, {"time", date},       {"address", hs.address},
      {"xdomain", hs.xdomain},         {"secure", hs.secure}, {"issued", issued},
      {"url", hs.url},                 {"query", std::move(query)}, {"auth", auth_},
  };
  return SocketInfo{id_, nsp_.name(), std::move(handshake_object), rooms_, data_};
}

}  // namespace iogate::sio
