#include "sio/client.h"

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/random_id.h"
#include "sio/server.h"

namespace iogate::sio {

namespace json = boost::json;

Client::Client(Server& server, eio::Connection& connection)
    : server_(server),
      connection_(connection),
      version_(connection.revision() == eio::Revision::v4 ? ProtocolVersion::v5 : ProtocolVersion::v4),
      decoder_(version_, server.options().max_attachments) {}

void Client::start() {
  if (version_ == ProtocolVersion::v4) {
    // Socket.IO 2 clients are connected to "/" implicitly.
    connect("/", json::object{});
  }
  if (!sockets_.empty()) {
    return;
  }
  connect_timer_ = std::make_unique<boost::asio::steady_timer>(connection_.context(), server_.options().connect_timeout);
  connect_timer_->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!ec && self && !self->closed_ && self->sockets_.empty()) {
      self->close();
    }
  });
}

Socket* Client::find(std::string_view nsp_name) const noexcept {
  for (const auto& [name, socket] : sockets_) {
    if (name == nsp_name) {
      return socket.get();
    }
  }
  return nullptr;
}

bool Client::connecting(std::string_view nsp_name) const noexcept {
  for (const auto& name : connecting_) {
    if (name == nsp_name) {
      return true;
    }
  }
  return false;
}

void Client::on_message(std::string_view data, bool binary) {
  if (closed_) {
    return;
  }
  auto status = binary ? decoder_.feed_binary(data) : decoder_.feed_text(data);
  if (status == Decoder::Status::failed) {
    // Malformed packets end the whole connection; the sockets then see the engine's reason
    // ("forced close"), as with the reference's Client.onerror.
    connection_.close();
    return;
  }
  if (status == Decoder::Status::packet_ready) {
    on_packet(decoder_.take());
  }
}

void Client::on_packet(Packet packet) {
  if (packet.type == PacketType::connect) {
    if (find(packet.nsp) != nullptr || connecting(packet.nsp)) {
      close();
      return;
    }
    json::value auth = packet.data.is_object() ? std::move(packet.data) : json::value(json::object{});
    connect(packet.nsp, std::move(auth));
    return;
  }
  Socket* socket = find(packet.nsp);
  if (socket == nullptr || packet.type == PacketType::connect_error) {
    close();
    return;
  }
  auto keep = socket->shared_from_this();
  socket->on_packet(packet);
}

void Client::connect(const std::string& nsp_name, json::value auth) {
  Namespace* nsp = server_.find_or_create(nsp_name, auth);
  if (nsp == nullptr) {
    refuse(nsp_name, ConnectError{"Invalid namespace", nullptr});
    return;
  }
  std::string id;
  if (version_ == ProtocolVersion::v4) {
    id = nsp_name == "/" ? connection_.id() : nsp_name + "#" + connection_.id();
  } else {
    id = core::random_id(20);
  }
  auto socket = std::make_shared<Socket>(*this, *nsp, nsp->shard(connection_.shard()), std::move(id), std::move(auth));
  connecting_.push_back(nsp_name);
  run_middleware(socket, 0);
}

void Client::run_middleware(const std::shared_ptr<Socket>& socket, std::size_t index) {
  auto& middlewares = socket->nsp().middlewares_;
  if (index == middlewares.size()) {
    finish_connect(socket, std::nullopt);
    return;
  }
  middlewares[index](*socket, [weak = weak_from_this(), socket, index](std::optional<ConnectError> error) {
    auto self = weak.lock();
    if (!self || self->closed_) {
      return;
    }
    if (error) {
      self->finish_connect(socket, std::move(error));
    } else {
      self->run_middleware(socket, index + 1);
    }
  });
}

void Client::finish_connect(const std::shared_ptr<Socket>& socket, std::optional<ConnectError> error) {
  const std::string& nsp_name = socket->nsp().name();
  std::erase(connecting_, nsp_name);
  if (closed_) {
    return;
  }
  if (error) {
    refuse(nsp_name, *error);
    return;
  }
  sockets_.emplace_back(nsp_name, socket);
  connect_timer_.reset();
  socket->shard_nsp_.add(*socket);
  socket->connected_ = true;
  socket->join(socket->id());

  Packet reply{.type = PacketType::connect, .nsp = nsp_name, .id = std::nullopt, .data = nullptr, .attachments = {}};
  if (version_ == ProtocolVersion::v5) {
    reply.data = json::object{{"sid", socket->id()}};
  }
  write(reply);
  try {
    for (const auto& handler : socket->nsp().connection_handlers_) {
      if (!socket->connected()) {
        break;
      }
      handler(*socket);
    }
  } catch (const std::exception& failure) {
    // A connection handler that throws leaves the socket half set up: let it go.
    socket->report_error(std::string("connection handler failed: ") + failure.what());
    socket->disconnect();
  }
}

void Client::refuse(const std::string& nsp_name, const ConnectError& error) {
  Packet packet{.type = PacketType::connect_error, .nsp = nsp_name, .id = std::nullopt, .data = nullptr,
                .attachments = {}};
  if (version_ == ProtocolVersion::v4 && error.message != "Invalid namespace") {
    // Socket.IO 2 clients get the middleware's data, or else its message, as the reference sends.
    packet.data = error.data.is_null() ? json::value(json::string(error.message)) : error.data;
  } else {
    json::object body{{"message", error.message}};
    if (!error.data.is_null()) {
      body["data"] = error.data;
    }
    packet.data = std::move(body);
  }
  write(packet);
}

void Client::write(const EncodedPackets& packets, bool is_volatile) {
  if (closed_ || (is_volatile && !connection_.writable())) {
    return;
  }
  for (const auto& packet : *packets) {
    connection_.send(packet);
  }
}

void Client::write(const Packet& packet, bool is_volatile) { write(encode_for_sending(packet), is_volatile); }

void Client::remove(Socket& socket) {
  std::erase_if(sockets_, [&](const auto& entry) { return entry.second.get() == &socket; });
}

// As the reference: the sockets leave at once ("forced server close"); the engine session
// then flushes and closes.
void Client::close() {
  if (closed_) {
    return;
  }
  on_close("forced server close");
  connection_.close();
}

void Client::disconnect() {
  // A copy: each socket removes itself from sockets_ as it leaves.
  auto sockets = sockets_;
  for (auto& [name, socket] : sockets) {
    socket->disconnect();
  }
  close();
}

void Client::on_close(std::string_view reason) {
  if (closed_) {
    return;
  }
  closed_ = true;
  connect_timer_.reset();
  auto sockets = std::move(sockets_);
  sockets_.clear();
  for (auto& [name, socket] : sockets) {
    socket->on_close(reason);
  }
}

}  // namespace iogate::sio
