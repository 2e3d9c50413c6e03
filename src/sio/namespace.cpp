#include "sio/namespace.h"

#include <algorithm>
#include <mutex>

#include <boost/asio/steady_timer.hpp>

#include <boost/json/string.hpp>

#include "net/shard_pool.h"
#include "sio/caller_shard.h"
#include "sio/client.h"
#include "sio/server.h"

namespace iogate::sio {

namespace {
std::atomic<std::uint64_t> encode_counter{0};
}  // namespace

std::uint64_t packets_encoded() noexcept { return encode_counter.load(std::memory_order_relaxed); }

EncodedPackets encode_for_sending(const Packet& packet) {
  encode_counter.fetch_add(1, std::memory_order_relaxed);
  std::string text;
  text.reserve(64);
  encode_packet(packet, text);
  auto packets = std::make_shared<std::vector<eio::SharedPacket>>();
  packets->reserve(1 + packet.attachments.size());
  packets->push_back(eio::make_text_packet(eio::PacketType::message, text));
  for (const auto& attachment : packet.attachments) {
    packets->push_back(eio::make_binary_packet(attachment));
  }
  return packets;
}

Packet make_event_packet(const std::string& nsp, std::string_view event, Payload&& payload) {
  boost::json::array data;
  data.reserve(payload.args.size() + 1);
  data.emplace_back(boost::json::string(event));
  for (auto& arg : payload.args) {
    data.push_back(std::move(arg));
  }
  return Packet{.type = PacketType::event, .nsp = nsp, .id = std::nullopt, .data = std::move(data),
                .attachments = std::move(payload.attachments)};
}

// ---- ShardNamespace -------------------------------------------------------------------------

void ShardNamespace::add(Socket& socket) {
  sockets_.emplace(socket.id(), &socket);
  nsp_.socket_count_.fetch_add(1, std::memory_order_relaxed);
}

void ShardNamespace::remove(Socket& socket) {
  if (sockets_.erase(socket.id()) > 0) {
    nsp_.socket_count_.fetch_sub(1, std::memory_order_relaxed);
  }
}

Socket* ShardNamespace::find(const std::string& id) const {
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : it->second;
}

bool ShardNamespace::in_own_room(const Socket& socket) noexcept {
  const auto& rooms = socket.rooms();
  return std::find(rooms.begin(), rooms.end(), socket.id()) != rooms.end();
}

Socket* ShardNamespace::own_room_member(const std::string& room) const {
  auto it = sockets_.find(room);
  return it != sockets_.end() && in_own_room(*it->second) ? it->second : nullptr;
}

void ShardNamespace::join(Socket& socket, const std::string& room) {
  if (room == socket.id()) {
    nsp_.adapter().on_room_created(room, true);
    return;
  }
  auto [it, created] = rooms_.try_emplace(room);
  it->second.insert(&socket);
  if (created) {
    nsp_.adapter().on_room_created(room, false);
  }
}

void ShardNamespace::leave(Socket& socket, const std::string& room) {
  if (room == socket.id()) {
    nsp_.adapter().on_room_deleted(room, true);
    return;
  }
  auto it = rooms_.find(room);
  if (it == rooms_.end()) {
    return;
  }
  it->second.erase(&socket);
  if (it->second.empty()) {
    rooms_.erase(it);
    nsp_.adapter().on_room_deleted(room, false);
  }
}

void ShardNamespace::for_each(const BroadcastOptions& options, const std::function<void(Socket&)>& fn) {
  std::unordered_set<Socket*> excluded;
  for (const auto& room : options.except) {
    if (auto it = rooms_.find(room); it != rooms_.end()) {
      excluded.insert(it->second.begin(), it->second.end());
    }
    if (Socket* own = own_room_member(room)) {
      excluded.insert(own);
    }
  }
  auto visit = [&](Socket* socket) {
    if (excluded.empty() || !excluded.contains(socket)) {
      fn(*socket);
    }
  };
  if (options.rooms.empty()) {
    for (const auto& [id, socket] : sockets_) {
      visit(socket);
    }
    return;
  }
  if (options.rooms.size() == 1) {
    const auto& room = options.rooms.front();
    if (auto it = rooms_.find(room); it != rooms_.end()) {
      for (Socket* socket : it->second) {
        visit(socket);
      }
    }
    // Not also in rooms_: a socket's own room is never indexed.
    if (Socket* own = own_room_member(room)) {
      visit(own);
    }
    return;
  }
  std::unordered_set<Socket*> seen;
  for (const auto& room : options.rooms) {
    if (auto it = rooms_.find(room); it != rooms_.end()) {
      for (Socket* socket : it->second) {
        if (seen.insert(socket).second) {
          visit(socket);
        }
      }
    }
    if (Socket* own = own_room_member(room); own != nullptr && seen.insert(own).second) {
      visit(own);
    }
  }
}

void ShardNamespace::deliver(const EncodedPackets& packets, const BroadcastOptions& options, const Packet* packet) {
  bool is_volatile = options.flags.is_volatile;
  if (packet == nullptr) {
    for_each(options, [&](Socket& socket) { socket.client_->write(packets, is_volatile); });
    return;
  }
  // Outgoing hooks are application code that may leave rooms or disconnect: select first, as
  // for_each walks the very room sets they change.
  std::vector<std::shared_ptr<Socket>> selected;
  for_each(options, [&](Socket& socket) { selected.push_back(socket.shared_from_this()); });
  for (const auto& socket : selected) {
    if (!socket->connected()) {
      continue;
    }
    socket->notify_outgoing(*packet);
    if (socket->connected()) {
      socket->client_->write(packets, is_volatile);
    }
  }
}

// ---- Namespace ------------------------------------------------------------------------------

Namespace::Namespace(Server& server, std::string name, const AdapterFactory& adapter_factory)
    : server_(server), name_(std::move(name)) {
  for (std::size_t shard = 0; shard < server.pool().size(); ++shard) {
    shards_.push_back(std::make_unique<ShardNamespace>(*this, shard));
  }
  adapter_ = adapter_factory(name_, *this);
}

Namespace::~Namespace() = default;

void Namespace::on_every_shard(const std::function<void(ShardNamespace&)>& fn) {
  auto& pool = server_.pool();
  std::size_t current = pool.current();
  for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
    if (shard == current) {
      continue;
    }
    pool.post(shard, [this, shard, fn] { fn(*shards_[shard]); });
  }
  // The caller's own shard last and at once: its sockets see the packet in emit order.
  if (current < shards_.size()) {
    fn(*shards_[current]);
  }
}

namespace {

// Collects the selected sockets first, so that fn may change rooms or disconnect sockets.
std::vector<std::shared_ptr<Socket>> select(ShardNamespace& shard, const BroadcastOptions& options) {
  std::vector<std::shared_ptr<Socket>> sockets;
  shard.for_each(options, [&](Socket& socket) { sockets.push_back(socket.shared_from_this()); });
  return sockets;
}

}  // namespace

void Namespace::broadcast(const Packet& packet, const BroadcastOptions& options) {
  auto packets = encode_for_sending(packet);
  auto shared_options = std::make_shared<const BroadcastOptions>(options);
  std::shared_ptr<const Packet> watched;
  if (outgoing_watchers_.load(std::memory_order_relaxed) > 0) {
    watched = std::make_shared<const Packet>(packet);
  }
  on_every_shard([packets, shared_options, watched](ShardNamespace& shard) {
    shard.deliver(packets, *shared_options, watched.get());
  });
}

void Namespace::broadcast_with_ack(const Packet& packet, const BroadcastOptions& options,
                                   std::shared_ptr<AckSink> sink) {
  Packet with_id = packet;
  std::uint64_t id = next_ack_id();
  with_id.id = id;
  auto packets = encode_for_sending(with_id);
  auto shared_options = std::make_shared<const BroadcastOptions>(options);
  struct Count {
    std::atomic<std::size_t> shards_left;
    std::atomic<std::size_t> clients{0};
  };
  auto count = std::make_shared<Count>();
  count->shards_left = shards_.size();
  std::shared_ptr<const Packet> watched;
  if (outgoing_watchers_.load(std::memory_order_relaxed) > 0) {
    watched = std::make_shared<const Packet>(with_id);
  }
  // Clients that never answer must not keep their ack entries for the socket's whole life:
  // each shard drops what is still registered a little after the broadcast's timeout.
  auto forget_after = options.flags.timeout.value_or(std::chrono::milliseconds(5'000)) + std::chrono::seconds(1);
  on_every_shard([this, packets, shared_options, sink, count, id, watched, forget_after](ShardNamespace& shard) {
    std::size_t reached = 0;
    bool is_volatile = shared_options->flags.is_volatile;
    auto registered = std::make_shared<std::vector<std::weak_ptr<Socket>>>();
    for (const auto& socket : select(shard, *shared_options)) {
      if (watched && socket->connected()) {
        socket->notify_outgoing(*watched);
      }
      if (!socket->connected()) {
        continue;
      }
      socket->register_ack(id, [sink](std::optional<Payload> reply) {
        if (reply) {
          sink->ack(std::move(*reply));
        }
      });
      registered->push_back(socket);
      socket->client_->write(packets, is_volatile);
      ++reached;
    }
    if (!registered->empty()) {
      auto timer = std::make_shared<boost::asio::steady_timer>(server_.pool().context(shard.shard()), forget_after);
      timer->async_wait([timer, registered, id](boost::system::error_code) {
        for (const auto& weak : *registered) {
          if (auto socket = weak.lock()) {
            socket->forget_ack(id);
          }
        }
      });
    }
    count->clients += reached;
    if (count->shards_left.fetch_sub(1) == 1) {
      sink->client_count(count->clients.load());
    }
  });
}

void Namespace::add_sockets(const BroadcastOptions& options, std::vector<std::string> rooms) {
  auto shared_options = std::make_shared<const BroadcastOptions>(options);
  auto shared_rooms = std::make_shared<const std::vector<std::string>>(std::move(rooms));
  on_every_shard([shared_options, shared_rooms](ShardNamespace& shard) {
    for (auto& socket : select(shard, *shared_options)) {
      socket->join(*shared_rooms);
    }
  });
}

void Namespace::del_sockets(const BroadcastOptions& options, std::vector<std::string> rooms) {
  auto shared_options = std::make_shared<const BroadcastOptions>(options);
  auto shared_rooms = std::make_shared<const std::vector<std::string>>(std::move(rooms));
  on_every_shard([shared_options, shared_rooms](ShardNamespace& shard) {
    for (auto& socket : select(shard, *shared_options)) {
      for (const auto& room : *shared_rooms) {
        socket->leave(room);
      }
    }
  });
}

void Namespace::disconnect_sockets(const BroadcastOptions& options, bool close) {
  auto shared_options = std::make_shared<const BroadcastOptions>(options);
  on_every_shard([shared_options, close](ShardNamespace& shard) {
    for (auto& socket : select(shard, *shared_options)) {
      socket->disconnect(close);
    }
  });
}


void Namespace::on_server_side(std::string event, ServerSideHandler handler) {
  server_side_handlers_[std::move(event)].push_back(std::move(handler));
}

void Namespace::server_side_emit(std::string_view event, boost::json::array args) {
  args.insert(args.begin(), boost::json::string(event));
  adapter_->server_side_emit(args);
}

void Namespace::server_side_emit_with_ack(std::string_view event, boost::json::array args,
                                          std::chrono::milliseconds timeout, ServerSideAckCollector done) {
  args.insert(args.begin(), boost::json::string(event));
  adapter_->server_side_emit_with_ack(args, timeout, on_caller_shard(server_.pool(), std::move(done)));
}

void Namespace::all_rooms(std::function<void(std::vector<std::string>)> done) {
  adapter_->all_rooms(on_caller_shard(server_.pool(), std::move(done)));
}

void Namespace::server_count(std::function<void(std::size_t)> done) {
  adapter_->server_count(on_caller_shard(server_.pool(), std::move(done)));
}

void Namespace::server_side_event(boost::json::array data, ServerSideReply reply) {
  if (data.empty() || !data[0].is_string()) {
    return;
  }
  auto it = server_side_handlers_.find(std::string(data[0].as_string()));
  if (it == server_side_handlers_.end()) {
    return;
  }
  data.erase(data.begin());
  for (const auto& handler : it->second) {
    handler(data, reply);
  }
}

void Namespace::local_rooms(std::function<void(std::vector<std::string>)> done) {
  struct Gather {
    std::mutex mutex;
    std::size_t shards_left;
    std::unordered_set<std::string> rooms;
    std::function<void(std::vector<std::string>)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->shards_left = shards_.size();
  gather->done = std::move(done);
  on_every_shard([gather](ShardNamespace& shard) {
    std::vector<std::string> found;
    shard.for_each_room([&](const std::string& room) { found.push_back(room); });
    std::unique_lock lock(gather->mutex);
    gather->rooms.insert(std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
    if (--gather->shards_left > 0) {
      return;
    }
    lock.unlock();
    gather->done(std::vector<std::string>(gather->rooms.begin(), gather->rooms.end()));
  });
}

void Namespace::fetch_sockets(const BroadcastOptions& options, std::function<void(std::vector<SocketInfo>)> done) {
  struct Gather {
    std::mutex mutex;
    std::size_t shards_left;
    std::vector<SocketInfo> sockets;
    std::function<void(std::vector<SocketInfo>)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->shards_left = shards_.size();
  gather->done = std::move(done);
  auto shared_options = std::make_shared<const BroadcastOptions>(options);
  auto& pool = server_.pool();
  std::size_t origin = pool.current();
  on_every_shard([gather, shared_options, origin, &pool](ShardNamespace& shard) {
    std::vector<SocketInfo> found;
    shard.for_each(*shared_options, [&](Socket& socket) { found.push_back(socket.info()); });
    std::unique_lock lock(gather->mutex);
    for (auto& info : found) {
      gather->sockets.push_back(std::move(info));
    }
    if (--gather->shards_left > 0) {
      return;
    }
    lock.unlock();
    auto finish = [gather] { gather->done(std::move(gather->sockets)); };
    if (origin != net::ShardPool::npos && origin != pool.current()) {
      pool.post(origin, finish);
    } else {
      finish();
    }
  });
}

}  // namespace iogate::sio
