#include "adapter/redis/cluster.h"

#include <algorithm>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>

#include "adapter/redis/wire.h"
#include "core/random_id.h"

namespace iogate::adapter::redis {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

// Request types of the classic adapter (RequestType in @socket.io/redis-adapter).
enum class Request : int {
  sockets = 0,
  all_rooms = 1,
  remote_join = 2,
  remote_leave = 3,
  remote_disconnect = 4,
  remote_fetch = 5,
  server_side_emit = 6,
  broadcast = 7,
  broadcast_client_count = 8,
  broadcast_ack = 9,
};

// Message types of the sharded adapter (MessageType in socket.io-adapter's ClusterAdapter).
enum class Message : int {
  broadcast = 3,
  sockets_join = 4,
  sockets_leave = 5,
  disconnect_sockets = 6,
  fetch_sockets = 7,
  fetch_sockets_response = 8,
  server_side_emit = 9,
  server_side_emit_response = 10,
  broadcast_client_count = 11,
  broadcast_ack = 12,
};

// Node's sharded adapter names its uid and request ids with 8 random bytes in hex.
std::string hex_id() {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string bytes = core::random_id(16);
  std::string out;
  for (char c : bytes) {
    out.push_back(kDigits[static_cast<unsigned char>(c) % 16]);
  }
  return out;
}

const json::value* member(const json::value& value, std::string_view key) {
  const auto* object = value.if_object();
  return object == nullptr ? nullptr : object->if_contains(key);
}

std::optional<std::int64_t> int_member(const json::value& value, std::string_view key) {
  const auto* field = member(value, key);
  if (field == nullptr) {
    return std::nullopt;
  }
  if (field->is_int64()) {
    return field->get_int64();
  }
  if (field->is_uint64() && field->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(field->get_uint64());
  }
  if (field->is_double()) {
    const double number = field->get_double();
    if (number >= 0 && number <= 1e15 && number == static_cast<double>(static_cast<std::int64_t>(number))) {
      return static_cast<std::int64_t>(number);
    }
  }
  return std::nullopt;
}

std::string string_member(const json::value& value, std::string_view key) {
  const auto* field = member(value, key);
  return field != nullptr && field->is_string() ? std::string(field->get_string()) : std::string();
}

std::vector<std::string> strings_member(const json::value& value, std::string_view key) {
  std::vector<std::string> out;
  if (const auto* field = member(value, key); field != nullptr && field->is_array()) {
    for (const auto& item : field->get_array()) {
      if (item.is_string()) {
        out.emplace_back(item.get_string());
      }
    }
  }
  return out;
}

// An EVENT for this namespace from a JSON packet {"type","data":[event, ...]} of a request.
std::optional<sio::Packet> packet_from(const json::value* packet, const std::string& nsp,
                                       std::vector<std::string> attachments) {
  if (packet == nullptr) {
    return std::nullopt;
  }
  const auto* data = member(*packet, "data");
  if (data == nullptr || !data->is_array() || data->get_array().empty() || !data->get_array().front().is_string()) {
    return std::nullopt;
  }
  return sio::Packet{.type = sio::PacketType::event,
                     .nsp = nsp,
                     .id = std::nullopt,
                     .data = *data,
                     .attachments = std::move(attachments)};
}

json::object packet_to_json(const sio::Packet& packet, bool with_nsp) {
  json::object out{{"type", static_cast<int>(sio::PacketType::event)}, {"data", packet.data}};
  if (with_nsp) {
    out["nsp"] = packet.nsp;
  }
  return out;
}

// The first argument of a client's ack, as Node relays it (one value).
json::value first_arg(sio::Payload& reply) { return reply.args.empty() ? json::value() : std::move(reply.args[0]); }

}  // namespace

// ---- NamespaceLink: one namespace's side of the cluster --------------------------------------

class Cluster::NamespaceLink : public std::enable_shared_from_this<Cluster::NamespaceLink> {
 public:
  NamespaceLink(Cluster& cluster, std::string nsp, sio::LocalSockets& local)
      : cluster_(cluster),
        options_(cluster.options_),
        nsp_(std::move(nsp)),
        local_(local),
        uid_(options_.mode == Mode::classic ? core::random_id(6) : hex_id()),
        channel_(broadcast_channel(options_.key, nsp_)),
        request_channel_(request_channel(options_.key, nsp_)),
        response_channel_(response_channel(options_.key, nsp_)),
        own_channel_(options_.mode == Mode::classic ? specific_response_channel(options_.key, nsp_, uid_)
                                                    : room_channel(options_.key, nsp_, uid_)) {}

  const std::string& nsp() const noexcept { return nsp_; }

  // ---- calls from the adapter, on any shard ----

  void broadcast(const sio::Packet& packet, const sio::BroadcastOptions& options) {
    local_.broadcast(packet, options);
    if (options.flags.local) {
      return;
    }
    if (options_.mode == Mode::classic) {
      std::string channel = options.rooms.size() == 1 ? room_channel(options_.key, nsp_, options.rooms.front()) : channel_;
      publish(std::move(channel), encode_broadcast(uid_, packet, options));
      return;
    }
    json::object data{{"packet", packet_to_json(packet, false)}, {"opts", options_to_json(options, true)}};
    publish(sharded_broadcast_channel(options), sharded(Message::broadcast, std::move(data), packet.attachments));
  }

  void broadcast_with_ack(const sio::Packet& packet, const sio::BroadcastOptions& options,
                          std::shared_ptr<sio::AckSink> sink) {
    if (options.flags.local) {
      sink->expect_servers(1);
      local_.broadcast_with_ack(packet, options, std::move(sink));
      return;
    }
    std::string request_id = new_request_id();
    std::string message;
    if (options_.mode == Mode::classic) {
      json::object request{{"uid", uid_},
                           {"requestId", request_id},
                           {"type", static_cast<int>(Request::broadcast)},
                           {"packet", packet_to_json(packet, true)},
                           {"opts", options_to_json(options, true)}};
      message = encode_msgpack(request, packet.attachments);
    } else {
      json::object data{
          {"packet", packet_to_json(packet, false)}, {"requestId", request_id}, {"opts", options_to_json(options, true)}};
      message = sharded(Message::broadcast, std::move(data), packet.attachments);
    }
    auto keep_for = options.flags.timeout.value_or(std::chrono::milliseconds(5'000));
    cluster_.run_home([self = shared_from_this(), request_id, message = std::move(message), sink, keep_for]() mutable {
      self->track_acks(request_id, sink, keep_for);
      self->publish_home(self->main_request_channel(), std::move(message));
      self->server_count([sink](std::size_t servers) { sink->expect_servers(servers); });
    });
    local_.broadcast_with_ack(packet, options, std::move(sink));
  }

  void add_sockets(const sio::BroadcastOptions& options, std::vector<std::string> rooms) {
    local_.add_sockets(options, rooms);
    if (!options.flags.local) {
      publish_membership(options_.mode == Mode::classic ? static_cast<int>(Request::remote_join)
                                                        : static_cast<int>(Message::sockets_join),
                         options, rooms);
    }
  }

  void del_sockets(const sio::BroadcastOptions& options, std::vector<std::string> rooms) {
    local_.del_sockets(options, rooms);
    if (!options.flags.local) {
      publish_membership(options_.mode == Mode::classic ? static_cast<int>(Request::remote_leave)
                                                        : static_cast<int>(Message::sockets_leave),
                         options, rooms);
    }
  }

  void disconnect_sockets(const sio::BroadcastOptions& options, bool close) {
    // Published first: the local disconnects may run handlers that publish in turn.
    if (!options.flags.local) {
      if (options_.mode == Mode::classic) {
        publish(request_channel_, json::serialize(json::object{{"uid", uid_},
                                                               {"type", static_cast<int>(Request::remote_disconnect)},
                                                               {"opts", options_to_json(options, false)},
                                                               {"close", close}}));
      } else {
        publish(channel_, sharded(Message::disconnect_sockets,
                                  json::object{{"opts", options_to_json(options, true)}, {"close", close}}));
      }
    }
    local_.disconnect_sockets(options, close);
  }

  void fetch_sockets(const sio::BroadcastOptions& options, sio::FetchCallback done) {
    if (options.flags.local) {
      local_.fetch_sockets(options, [done = std::move(done)](std::vector<sio::SocketInfo> sockets) {
        done(std::nullopt, std::move(sockets));
      });
      return;
    }
    cluster_.run_home([self = shared_from_this(), options, done = std::move(done)]() mutable {
      self->start_fetch(std::move(options), std::move(done));
    });
  }

  void all_rooms(std::function<void(std::vector<std::string>)> done) {
    if (options_.mode == Mode::sharded) {
      // The sharded protocol has no such request (Node's sharded adapter has no allRooms).
      local_.local_rooms(std::move(done));
      return;
    }
    cluster_.run_home([self = shared_from_this(), done = std::move(done)]() mutable {
      self->start_all_rooms(std::move(done));
    });
  }

  void server_side_emit(const json::array& data) {
    if (options_.mode == Mode::classic) {
      publish(request_channel_, json::serialize(json::object{
                                    {"uid", uid_}, {"type", static_cast<int>(Request::server_side_emit)}, {"data", data}}));
    } else {
      publish(channel_, sharded(Message::server_side_emit, json::object{{"packet", data}}));
    }
  }

  void server_side_emit_with_ack(const json::array& data, std::chrono::milliseconds timeout,
                                 sio::ServerSideAckCollector done) {
    cluster_.run_home([self = shared_from_this(), data, timeout, done = std::move(done)]() mutable {
      self->start_server_side_emit(std::move(data), timeout, std::move(done));
    });
  }

  void server_count_from_any(std::function<void(std::size_t)> done) {
    cluster_.run_home([self = shared_from_this(), done = std::move(done)]() mutable {
      self->server_count(std::move(done));
    });
  }

  void room_created(std::string_view room, bool socket_room) {
    if (!wants_room_channel(socket_room)) {
      return;
    }
    cluster_.run_home([self = shared_from_this(), room = std::string(room)] {
      if (++self->room_refs_[room] == 1) {
        self->cluster_.subscriber_->ssubscribe(
            room_channel(self->options_.key, self->nsp_, room),
            [weak = std::weak_ptr(self)](std::string_view, std::string_view channel, std::string_view payload) {
              if (auto link = weak.lock()) {
                link->on_sharded(channel, payload);
              }
            });
      }
    });
  }

  void room_deleted(std::string_view room, bool socket_room) {
    if (!wants_room_channel(socket_room)) {
      return;
    }
    cluster_.run_home([self = shared_from_this(), room = std::string(room)] {
      auto it = self->room_refs_.find(room);
      if (it == self->room_refs_.end()) {
        return;
      }
      if (--it->second == 0) {
        self->room_refs_.erase(it);
        self->cluster_.subscriber_->sunsubscribe(room_channel(self->options_.key, self->nsp_, room));
      }
    });
  }

  // ---- home loop ----

  void subscribe() {
    auto& subscriber = *cluster_.subscriber_;
    std::weak_ptr<NamespaceLink> weak = shared_from_this();
    if (options_.mode == Mode::classic) {
      subscriber.psubscribe(channel_ + "*", [weak](std::string_view, std::string_view channel, std::string_view payload) {
        if (auto self = weak.lock()) {
          self->on_broadcast(channel, payload);
        }
      });
      auto on_request = [weak](std::string_view, std::string_view, std::string_view payload) {
        if (auto self = weak.lock()) {
          self->on_request(payload);
        }
      };
      auto on_response = [weak](std::string_view, std::string_view, std::string_view payload) {
        if (auto self = weak.lock()) {
          self->on_response(payload);
        }
      };
      subscriber.subscribe(request_channel_, on_request);
      subscriber.subscribe(response_channel_, on_response);
      subscriber.subscribe(own_channel_, on_response);
      return;
    }
    auto on_message = [weak](std::string_view, std::string_view channel, std::string_view payload) {
      if (auto self = weak.lock()) {
        self->on_sharded(channel, payload);
      }
    };
    subscriber.ssubscribe(channel_, on_message);
    subscriber.ssubscribe(own_channel_, on_message);
  }

 private:
  struct Pending {
    enum class Kind { fetch, rooms, server_side } kind;
    std::size_t expected = 0;  // answers from other nodes
    std::size_t received = 0;
    bool local_done = false;
    std::vector<sio::SocketInfo> sockets;
    std::set<std::string> rooms;
    std::vector<json::value> replies;
    std::unique_ptr<asio::steady_timer> timer;
    std::function<void(Pending&, bool timed_out)> finish;
  };

  struct AckRequest {
    std::shared_ptr<sio::AckSink> sink;
    std::unique_ptr<asio::steady_timer> expiry;
  };

  std::string new_request_id() const { return options_.mode == Mode::classic ? core::random_id(6) : hex_id(); }

  bool wants_room_channel(bool socket_room) const {
    if (options_.mode != Mode::sharded) {
      return false;
    }
    switch (options_.subscription_mode) {
      case SubscriptionMode::dynamic:
        return !socket_room;
      case SubscriptionMode::dynamic_private:
        return true;
      case SubscriptionMode::static_rooms:
        return false;
    }
    return false;
  }

  // Sharded: a plain broadcast to one room rides that room's channel, as Node's computeChannel
  // does; in dynamic mode a 20-character name is taken for a socket id, which has no channel.
  std::string sharded_broadcast_channel(const sio::BroadcastOptions& options) const {
    if (options.rooms.size() != 1) {
      return channel_;
    }
    const std::string& room = options.rooms.front();
    const bool use_room = options_.subscription_mode == SubscriptionMode::dynamic_private ||
                          (options_.subscription_mode == SubscriptionMode::dynamic && room.size() != 20);
    return use_room ? room_channel(options_.key, nsp_, room) : channel_;
  }

  const std::string& main_request_channel() const {
    return options_.mode == Mode::classic ? request_channel_ : channel_;
  }

  // {"type","data","uid","nsp"}: JSON, or msgpack when binary rides along (as Node decides).
  std::string sharded(Message type, json::object data, const std::vector<std::string>& attachments = {}) const {
    json::object message{{"type", static_cast<int>(type)}, {"data", std::move(data)}, {"uid", uid_}, {"nsp", nsp_}};
    return attachments.empty() ? json::serialize(message) : encode_msgpack(message, attachments);
  }

  void publish(std::string channel, std::string message) {
    cluster_.run_home([self = shared_from_this(), channel = std::move(channel), message = std::move(message)]() mutable {
      self->publish_home(std::move(channel), std::move(message));
    });
  }

  void publish_home(std::string channel, std::string message) { cluster_.publish(std::move(channel), std::move(message)); }

  void publish_membership(int type, const sio::BroadcastOptions& options, const std::vector<std::string>& rooms) {
    json::array room_list;
    for (const auto& room : rooms) {
      room_list.emplace_back(room);
    }
    if (options_.mode == Mode::classic) {
      publish(request_channel_, json::serialize(json::object{{"uid", uid_},
                                                             {"type", type},
                                                             {"opts", options_to_json(options, false)},
                                                             {"rooms", std::move(room_list)}}));
    } else {
      publish(channel_, sharded(static_cast<Message>(type),
                                json::object{{"opts", options_to_json(options, true)}, {"rooms", std::move(room_list)}}));
    }
  }

  // Nodes serving this namespace, this one included (at least 1: Redis may be away).
  void server_count(std::function<void(std::size_t)> done) {
    std::vector<std::string> command = options_.mode == Mode::classic
                                           ? std::vector<std::string>{"PUBSUB", "NUMSUB", request_channel_}
                                           : std::vector<std::string>{"PUBSUB", "SHARDNUMSUB", channel_};
    cluster_.commands_->command(std::move(command), [done = std::move(done)](iogate::redis::Reply reply) {
      std::size_t count = 1;
      if (reply.type == iogate::redis::Reply::Type::array && reply.elements.size() == 2 &&
          reply.elements[1].type == iogate::redis::Reply::Type::integer && reply.elements[1].integer > 1) {
        count = static_cast<std::size_t>(reply.elements[1].integer);
      }
      done(count);
    });
  }

  void track_acks(const std::string& request_id, std::shared_ptr<sio::AckSink> sink, std::chrono::milliseconds keep_for) {
    auto timer = std::make_unique<asio::steady_timer>(cluster_.home_, keep_for);
    timer->async_wait([weak = weak_from_this(), request_id](boost::system::error_code error) {
      if (auto self = weak.lock(); self && !error) {
        self->ack_requests_.erase(request_id);
      }
    });
    ack_requests_[request_id] = AckRequest{std::move(sink), std::move(timer)};
  }

  // Registers a request waiting for `expected` other nodes, then publishes it.
  std::shared_ptr<Pending> open_request(const std::string& request_id, Pending::Kind kind, std::size_t expected,
                                        std::chrono::milliseconds timeout,
                                        std::function<void(Pending&, bool)> finish) {
    auto pending = std::make_shared<Pending>();
    pending->kind = kind;
    pending->expected = expected;
    pending->finish = std::move(finish);
    pending->timer = std::make_unique<asio::steady_timer>(cluster_.home_, timeout);
    pending->timer->async_wait([weak = weak_from_this(), request_id](boost::system::error_code error) {
      auto self = weak.lock();
      if (!self || error) {
        return;
      }
      auto it = self->pending_.find(request_id);
      if (it == self->pending_.end()) {
        return;
      }
      auto request = it->second;
      self->pending_.erase(it);
      self->cluster_.stats_.request_timeouts.fetch_add(1, std::memory_order_relaxed);
      request->finish(*request, true);
    });
    pending_[request_id] = pending;
    return pending;
  }

  void check_done(const std::string& request_id) {
    auto it = pending_.find(request_id);
    if (it == pending_.end()) {
      return;
    }
    auto& request = *it->second;
    const bool local_ok = request.kind == Pending::Kind::server_side || request.local_done;
    if (!local_ok || request.received < request.expected) {
      return;
    }
    auto done = it->second;
    pending_.erase(it);
    done->timer->cancel();
    done->finish(*done, false);
  }

  void start_fetch(sio::BroadcastOptions options, sio::FetchCallback done) {
    server_count([self = shared_from_this(), options = std::move(options), done = std::move(done)](std::size_t servers) mutable {
      if (servers <= 1) {
        self->local_.fetch_sockets(options, [done = std::move(done)](std::vector<sio::SocketInfo> sockets) {
          done(std::nullopt, std::move(sockets));
        });
        return;
      }
      std::string request_id = self->new_request_id();
      self->open_request(request_id, Pending::Kind::fetch, servers - 1, self->options_.requests_timeout,
                         [done = std::move(done)](Pending& request, bool timed_out) {
                           std::optional<std::string> error;
                           if (timed_out) {
                             error = "timeout reached while waiting for fetchSockets response";
                           }
                           done(std::move(error), std::move(request.sockets));
                         });
      if (self->options_.mode == Mode::classic) {
        self->publish_home(self->request_channel_,
                           json::serialize(json::object{{"uid", self->uid_},
                                                        {"requestId", request_id},
                                                        {"type", static_cast<int>(Request::remote_fetch)},
                                                        {"opts", options_to_json(options, false)}}));
      } else {
        self->publish_home(self->channel_, self->sharded(Message::fetch_sockets,
                                                         json::object{{"opts", options_to_json(options, true)},
                                                                      {"requestId", request_id}}));
      }
      self->local_.fetch_sockets(options, [self, request_id](std::vector<sio::SocketInfo> sockets) {
        if (auto it = self->pending_.find(request_id); it != self->pending_.end()) {
          auto& gathered = it->second->sockets;
          gathered.insert(gathered.begin(), std::make_move_iterator(sockets.begin()),
                          std::make_move_iterator(sockets.end()));
          it->second->local_done = true;
          self->check_done(request_id);
        }
      });
    });
  }

  void start_all_rooms(std::function<void(std::vector<std::string>)> done) {
    server_count([self = shared_from_this(), done = std::move(done)](std::size_t servers) mutable {
      if (servers <= 1) {
        self->local_.local_rooms(std::move(done));
        return;
      }
      std::string request_id = self->new_request_id();
      self->open_request(request_id, Pending::Kind::rooms, servers - 1, self->options_.requests_timeout,
                         [done = std::move(done)](Pending& request, bool) {
                           done(std::vector<std::string>(request.rooms.begin(), request.rooms.end()));
                         });
      self->publish_home(self->request_channel_,
                         json::serialize(json::object{{"uid", self->uid_},
                                                      {"requestId", request_id},
                                                      {"type", static_cast<int>(Request::all_rooms)}}));
      self->local_.local_rooms([self, request_id](std::vector<std::string> rooms) {
        if (auto it = self->pending_.find(request_id); it != self->pending_.end()) {
          it->second->rooms.insert(rooms.begin(), rooms.end());
          it->second->local_done = true;
          self->check_done(request_id);
        }
      });
    });
  }

  void start_server_side_emit(json::array data, std::chrono::milliseconds timeout, sio::ServerSideAckCollector done) {
    server_count([self = shared_from_this(), data = std::move(data), timeout, done = std::move(done)](std::size_t servers) mutable {
      if (servers <= 1) {
        done(std::nullopt, {});
        return;
      }
      std::string request_id = self->new_request_id();
      self->open_request(request_id, Pending::Kind::server_side, servers - 1, timeout,
                         [done = std::move(done)](Pending& request, bool timed_out) {
                           std::optional<std::string> error;
                           if (timed_out) {
                             error = "timeout reached: only " + std::to_string(request.received) + " responses received out of " +
                                     std::to_string(request.expected);
                           }
                           done(std::move(error), std::move(request.replies));
                         });
      if (self->options_.mode == Mode::classic) {
        self->publish_home(self->request_channel_,
                           json::serialize(json::object{{"uid", self->uid_},
                                                        {"requestId", request_id},
                                                        {"type", static_cast<int>(Request::server_side_emit)},
                                                        {"data", std::move(data)}}));
      } else {
        self->publish_home(self->channel_, self->sharded(Message::server_side_emit,
                                                         json::object{{"requestId", request_id}, {"packet", std::move(data)}}));
      }
    });
  }

  // Once per message from Redis; readable is false when it could not be decoded at all.
  void count_received(bool readable) {
    cluster_.stats_.received.fetch_add(1, std::memory_order_relaxed);
    if (!readable) {
      count_malformed();
    }
  }
  // A decoded message whose fields are not what the protocol says (already counted as received).
  void count_malformed() { cluster_.stats_.malformed.fetch_add(1, std::memory_order_relaxed); }

  // ---- classic: incoming ----

  void on_broadcast(std::string_view channel, std::string_view payload) {
    if (!room_of_channel(options_.key, nsp_, channel)) {
      return;  // another namespace whose name starts like ours
    }
    auto message = decode_broadcast(payload);
    count_received(message.has_value());
    if (!message || message->uid == uid_) {
      return;
    }
    // Node leaves nsp out for "/" in some versions.
    if (message->packet.nsp.empty()) {
      message->packet.nsp = "/";
    }
    if (message->packet.nsp != nsp_) {
      return;
    }
    message->options.flags.local = false;
    local_.broadcast(message->packet, message->options);
  }

  // Where a classic request's answer goes.
  std::string response_channel_for(const json::value& request, bool generic) const {
    std::string requester = string_member(request, "uid");
    if (generic || !options_.publish_on_specific_response_channel || requester.empty()) {
      return response_channel_;
    }
    return specific_response_channel(options_.key, nsp_, requester);
  }

  void on_request(std::string_view payload) {
    auto document = decode_message(payload);
    const auto type = document ? int_member(document->value, "type") : std::nullopt;
    count_received(type.has_value());
    if (!type) {
      return;
    }
    const json::value& request = document->value;
    const std::string request_id = string_member(request, "requestId");
    const bool own_uid = string_member(request, "uid") == uid_;
    auto self = shared_from_this();
    auto respond = [self, channel = response_channel_for(request, false)](json::object answer) {
      self->publish_home(channel, json::serialize(answer));
    };
    switch (static_cast<Request>(*type)) {
      case Request::sockets: {
        if (pending_.contains(request_id)) {
          return;
        }
        sio::BroadcastOptions options;
        options.rooms = strings_member(request, "rooms");
        local_.fetch_sockets(options, [respond, request_id](std::vector<sio::SocketInfo> sockets) {
          json::array ids;
          for (const auto& socket : sockets) {
            ids.emplace_back(socket.id);
          }
          respond(json::object{{"requestId", request_id}, {"sockets", std::move(ids)}});
        });
        return;
      }
      case Request::all_rooms:
        if (pending_.contains(request_id)) {
          return;
        }
        local_.local_rooms([respond, request_id](std::vector<std::string> rooms) {
          json::array list;
          for (auto& room : rooms) {
            list.emplace_back(room);
          }
          respond(json::object{{"requestId", request_id}, {"rooms", std::move(list)}});
        });
        return;
      case Request::remote_join:
      case Request::remote_leave:
      case Request::remote_disconnect:
        // Ours were applied when issued.
        if (!own_uid) {
          apply_remote(static_cast<Request>(*type), request, respond);
        }
        return;
      case Request::remote_fetch: {
        if (pending_.contains(request_id)) {
          return;
        }
        const auto* opts = member(request, "opts");
        auto options = opts ? options_from_json(*opts) : std::optional<sio::BroadcastOptions>(sio::BroadcastOptions{});
        if (!options) {
          count_malformed();
          return;
        }
        local_.fetch_sockets(*options, [respond, request_id](std::vector<sio::SocketInfo> sockets) {
          json::array list;
          for (const auto& socket : sockets) {
            list.emplace_back(socket_to_json(socket));
          }
          respond(json::object{{"requestId", request_id}, {"sockets", std::move(list)}});
        });
        return;
      }
      case Request::server_side_emit: {
        if (own_uid) {
          return;
        }
        const auto* data = member(request, "data");
        if (data == nullptr || !data->is_array()) {
          return;
        }
        sio::ServerSideReply reply;
        if (!request_id.empty()) {
          // Always on the shared channel, as Node answers these.
          reply = once([self, request_id](json::value answer) {
            self->publish_home(self->response_channel_,
                               json::serialize(json::object{{"type", static_cast<int>(Request::server_side_emit)},
                                                            {"requestId", request_id},
                                                            {"data", std::move(answer)}}));
          });
        }
        local_.server_side_event(data->get_array(), std::move(reply));
        return;
      }
      case Request::broadcast: {
        if (ack_requests_.contains(request_id)) {
          return;
        }
        const auto* opts = member(request, "opts");
        auto options = opts ? options_from_json(*opts) : std::nullopt;
        auto packet = packet_from(member(request, "packet"), nsp_, std::move(document->attachments));
        if (!options || !packet) {
          count_malformed();
          return;
        }
        options->flags.local = false;
        local_.broadcast_with_ack(*packet, *options, relay_acks(request_id, response_channel_for(request, false)));
        return;
      }
      default:
        return;
    }
  }

  // Acks of a broadcast another node asked for, relayed to it: our client count once, then each ack.
  std::shared_ptr<sio::AckSink> relay_acks(const std::string& request_id, std::string channel) {
    auto sink = std::make_shared<sio::AckSink>();
    std::weak_ptr<NamespaceLink> weak = shared_from_this();
    sink->expect_servers = [](std::size_t) {};
    sink->client_count = [weak, request_id, channel](std::size_t clients) {
      if (auto self = weak.lock()) {
        std::string message =
            self->options_.mode == Mode::classic
                ? json::serialize(json::object{{"type", static_cast<int>(Request::broadcast_client_count)},
                                               {"requestId", request_id},
                                               {"clientCount", clients}})
                : self->sharded(Message::broadcast_client_count,
                                json::object{{"requestId", request_id}, {"clientCount", clients}});
        self->publish(channel, std::move(message));
      }
    };
    sink->ack = [weak, request_id, channel](sio::Payload reply) {
      if (auto self = weak.lock()) {
        std::string message;
        if (self->options_.mode == Mode::classic) {
          json::object answer{{"type", static_cast<int>(Request::broadcast_ack)},
                              {"requestId", request_id},
                              {"packet", first_arg(reply)}};
          message = encode_msgpack(answer, reply.attachments);
        } else {
          message = self->sharded(Message::broadcast_ack, json::object{{"requestId", request_id}, {"packet", first_arg(reply)}},
                                  reply.attachments);
        }
        self->publish(channel, std::move(message));
      }
    };
    return sink;
  }

  template <typename Respond>
  void apply_remote(Request type, const json::value& request, const Respond& respond) {
    if (const auto* opts = member(request, "opts")) {
      auto options = options_from_json(*opts);
      if (!options) {
        count_malformed();
        return;
      }
      options->flags.local = false;
      if (type == Request::remote_join) {
        local_.add_sockets(*options, strings_member(request, "rooms"));
      } else if (type == Request::remote_leave) {
        local_.del_sockets(*options, strings_member(request, "rooms"));
      } else {
        const auto* close = member(request, "close");
        local_.disconnect_sockets(*options, close != nullptr && close->is_bool() && close->get_bool());
      }
      return;
    }
    // The per-socket form of older Node adapters: act if the socket is here, then answer.
    std::string sid = string_member(request, "sid");
    if (sid.empty()) {
      return;
    }
    sio::BroadcastOptions options;
    options.rooms = {sid};
    std::string room = string_member(request, "room");
    const auto* close_member = member(request, "close");
    bool close = close_member != nullptr && close_member->is_bool() && close_member->get_bool();
    std::string request_id = string_member(request, "requestId");
    local_.fetch_sockets(options, [self = shared_from_this(), type, options, room, close, request_id,
                                   respond](std::vector<sio::SocketInfo> found) {
      if (found.empty()) {
        return;
      }
      if (type == Request::remote_join) {
        self->local_.add_sockets(options, {room});
      } else if (type == Request::remote_leave) {
        self->local_.del_sockets(options, {room});
      } else {
        self->local_.disconnect_sockets(options, close);
      }
      respond(json::object{{"requestId", request_id}});
    });
  }

  void on_response(std::string_view payload) {
    auto document = decode_message(payload);
    count_received(document.has_value());
    if (!document) {
      return;
    }
    const json::value& response = document->value;
    const std::string request_id = string_member(response, "requestId");
    if (auto ack = ack_requests_.find(request_id); ack != ack_requests_.end()) {
      const auto type = int_member(response, "type");
      if (type == static_cast<int>(Request::broadcast_client_count)) {
        if (auto count = int_member(response, "clientCount"); count && *count >= 0) {
          ack->second.sink->client_count(static_cast<std::size_t>(*count));
        }
      } else if (type == static_cast<int>(Request::broadcast_ack)) {
        deliver_ack(*ack->second.sink, member(response, "packet"), std::move(document->attachments));
      }
      return;
    }
    auto it = pending_.find(request_id);
    if (it == pending_.end()) {
      return;
    }
    add_answer(*it->second, response, "data");
    check_done(request_id);
  }

  static void deliver_ack(sio::AckSink& sink, const json::value* packet, std::vector<std::string> attachments) {
    sio::Payload reply;
    reply.args.push_back(packet != nullptr ? *packet : json::value());
    reply.attachments = std::move(attachments);
    sink.ack(std::move(reply));
  }

  // One other node's answer to a request of ours. `data_key`: where a server-side answer sits.
  void add_answer(Pending& request, const json::value& response, std::string_view data_key) {
    ++request.received;
    switch (request.kind) {
      case Pending::Kind::fetch:
        if (const auto* sockets = member(response, "sockets"); sockets != nullptr && sockets->is_array()) {
          for (const auto& item : sockets->get_array()) {
            if (auto socket = socket_from_json(item)) {
              socket->nsp = nsp_;
              request.sockets.push_back(std::move(*socket));
            }
          }
        }
        return;
      case Pending::Kind::rooms:
        for (auto& room : strings_member(response, "rooms")) {
          request.rooms.insert(std::move(room));
        }
        return;
      case Pending::Kind::server_side: {
        const auto* data = member(response, data_key);
        request.replies.push_back(data != nullptr ? *data : json::value());
        return;
      }
    }
  }

  // ---- sharded: incoming ----

  void on_sharded(std::string_view, std::string_view payload) {
    auto document = decode_message(payload);
    const auto type = document ? int_member(document->value, "type") : std::nullopt;
    count_received(type.has_value());
    if (!type) {
      return;
    }
    const json::value& message = document->value;
    const std::string sender = string_member(message, "uid");
    if (sender == uid_ || string_member(message, "nsp") != nsp_) {
      return;
    }
    const json::value* data_member = member(message, "data");
    static const json::value kEmpty = json::object();
    const json::value& data = data_member != nullptr ? *data_member : kEmpty;
    const std::string request_id = string_member(data, "requestId");
    const std::string reply_channel = room_channel(options_.key, nsp_, sender);
    auto self = shared_from_this();
    auto options_of = [&]() -> std::optional<sio::BroadcastOptions> {
      const auto* opts = member(data, "opts");
      auto options = opts ? options_from_json(*opts) : std::optional<sio::BroadcastOptions>(sio::BroadcastOptions{});
      if (options) {
        options->flags.local = false;
      } else {
        count_malformed();
      }
      return options;
    };
    switch (static_cast<Message>(*type)) {
      case Message::broadcast: {
        auto options = options_of();
        auto packet = packet_from(member(data, "packet"), nsp_, std::move(document->attachments));
        if (!options || !packet) {
          return;
        }
        if (request_id.empty()) {
          local_.broadcast(*packet, *options);
        } else {
          local_.broadcast_with_ack(*packet, *options, relay_acks(request_id, reply_channel));
        }
        return;
      }
      case Message::sockets_join:
      case Message::sockets_leave:
        if (auto options = options_of()) {
          if (static_cast<Message>(*type) == Message::sockets_join) {
            local_.add_sockets(*options, strings_member(data, "rooms"));
          } else {
            local_.del_sockets(*options, strings_member(data, "rooms"));
          }
        }
        return;
      case Message::disconnect_sockets:
        if (auto options = options_of()) {
          const auto* close = member(data, "close");
          local_.disconnect_sockets(*options, close != nullptr && close->is_bool() && close->get_bool());
        }
        return;
      case Message::fetch_sockets:
        if (auto options = options_of()) {
          local_.fetch_sockets(*options, [self, request_id, reply_channel](std::vector<sio::SocketInfo> sockets) {
            json::array list;
            for (const auto& socket : sockets) {
              list.emplace_back(socket_to_json(socket));
            }
            self->publish_home(reply_channel, self->sharded(Message::fetch_sockets_response,
                                                            json::object{{"requestId", request_id}, {"sockets", std::move(list)}}));
          });
        }
        return;
      case Message::server_side_emit: {
        const auto* packet = member(data, "packet");
        if (packet == nullptr || !packet->is_array()) {
          return;
        }
        sio::ServerSideReply reply;
        if (!request_id.empty()) {
          reply = once([self, request_id, reply_channel](json::value answer) {
            self->publish_home(reply_channel, self->sharded(Message::server_side_emit_response,
                                                            json::object{{"requestId", request_id}, {"packet", std::move(answer)}}));
          });
        }
        local_.server_side_event(packet->get_array(), std::move(reply));
        return;
      }
      case Message::fetch_sockets_response:
      case Message::server_side_emit_response:
        if (auto it = pending_.find(request_id); it != pending_.end()) {
          add_answer(*it->second, data, "packet");
          check_done(request_id);
        }
        return;
      case Message::broadcast_client_count:
        if (auto ack = ack_requests_.find(request_id); ack != ack_requests_.end()) {
          if (auto count = int_member(data, "clientCount"); count && *count >= 0) {
            ack->second.sink->client_count(static_cast<std::size_t>(*count));
          }
        }
        return;
      case Message::broadcast_ack:
        if (auto ack = ack_requests_.find(request_id); ack != ack_requests_.end()) {
          deliver_ack(*ack->second.sink, member(data, "packet"), std::move(document->attachments));
        }
        return;
    }
  }

  // A reply callable from any shard and only once, published from home.
  sio::ServerSideReply once(std::function<void(json::value)> answer) {
    auto called = std::make_shared<std::atomic<bool>>(false);
    return [this_cluster = &cluster_, called, answer = std::move(answer)](json::value value) {
      if (called->exchange(true)) {
        return;
      }
      this_cluster->run_home([answer, value = std::move(value)]() mutable { answer(std::move(value)); });
    };
  }

  Cluster& cluster_;
  const ClusterOptions& options_;
  const std::string nsp_;
  sio::LocalSockets& local_;
  const std::string uid_;
  const std::string channel_;           // "<key>#<nsp>#"
  const std::string request_channel_;   // classic
  const std::string response_channel_;  // classic
  const std::string own_channel_;       // classic: specific responses; sharded: responses to us
  // Home loop only.
  std::unordered_map<std::string, std::shared_ptr<Pending>> pending_;
  std::unordered_map<std::string, AckRequest> ack_requests_;
  std::unordered_map<std::string, std::size_t> room_refs_;  // shards holding each room (sharded)
};

// ---- the sio::Adapter face ---------------------------------------------------------------------

namespace {

class RedisAdapter final : public sio::Adapter {
 public:
  explicit RedisAdapter(std::shared_ptr<Cluster::NamespaceLink> link) : link_(std::move(link)) {}

  void broadcast(const sio::Packet& packet, const sio::BroadcastOptions& options) override {
    link_->broadcast(packet, options);
  }
  void broadcast_with_ack(const sio::Packet& packet, const sio::BroadcastOptions& options,
                          std::shared_ptr<sio::AckSink> sink) override {
    link_->broadcast_with_ack(packet, options, std::move(sink));
  }
  void add_sockets(const sio::BroadcastOptions& options, std::vector<std::string> rooms) override {
    link_->add_sockets(options, std::move(rooms));
  }
  void del_sockets(const sio::BroadcastOptions& options, std::vector<std::string> rooms) override {
    link_->del_sockets(options, std::move(rooms));
  }
  void disconnect_sockets(const sio::BroadcastOptions& options, bool close) override {
    link_->disconnect_sockets(options, close);
  }
  void fetch_sockets(const sio::BroadcastOptions& options, sio::FetchCallback done) override {
    link_->fetch_sockets(options, std::move(done));
  }
  void all_rooms(std::function<void(std::vector<std::string>)> done) override { link_->all_rooms(std::move(done)); }
  void server_side_emit(const json::array& data) override { link_->server_side_emit(data); }
  void server_side_emit_with_ack(const json::array& data, std::chrono::milliseconds timeout,
                                 sio::ServerSideAckCollector done) override {
    link_->server_side_emit_with_ack(data, timeout, std::move(done));
  }
  void server_count(std::function<void(std::size_t)> done) override { link_->server_count_from_any(std::move(done)); }
  void on_room_created(std::string_view room, bool socket_room) override { link_->room_created(room, socket_room); }
  void on_room_deleted(std::string_view room, bool socket_room) override { link_->room_deleted(room, socket_room); }

 private:
  std::shared_ptr<Cluster::NamespaceLink> link_;
};

}  // namespace

// ---- Cluster ----------------------------------------------------------------------------------

Cluster::Cluster(asio::io_context& home, ClusterOptions options)
    : home_(home),
      options_(std::move(options)),
      commands_(std::make_unique<iogate::redis::Connection>(home, options_.endpoint)),
      subscriber_(std::make_unique<iogate::redis::Connection>(home, options_.endpoint)) {
  commands_->on_state([this](bool) { update_state(); });
  subscriber_->on_state([this](bool) { update_state(); });
}

Cluster::~Cluster() = default;

void Cluster::on_state(std::function<void(bool)> handler) { on_state_ = std::move(handler); }

void Cluster::start() {
  run_home([this] {
    commands_->connect();
    subscriber_->connect();
  });
}

std::string Cluster::last_error() const {
  return !subscriber_->last_error().empty() ? subscriber_->last_error() : commands_->last_error();
}

bool Cluster::on_home() const { return home_.get_executor().running_in_this_thread(); }

void Cluster::run_home(std::function<void()> work) {
  if (on_home()) {
    work();
  } else {
    asio::post(home_, std::move(work));
  }
}

void Cluster::publish(std::string channel, std::string message) {
  if (!commands_->connected()) {
    stats_.publish_failures.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const char* verb = options_.mode == Mode::classic ? "PUBLISH" : "SPUBLISH";
  commands_->command({verb, std::move(channel), std::move(message)}, [this](iogate::redis::Reply reply) {
    (reply.is_error() ? stats_.publish_failures : stats_.published).fetch_add(1, std::memory_order_relaxed);
  });
}

void Cluster::update_state() {
  const bool now = commands_->connected() && subscriber_->connected();
  if (connected_.exchange(now) != now && on_state_) {
    on_state_(now);
  }
}

sio::AdapterFactory Cluster::factory() {
  return [this](std::string_view nsp, sio::LocalSockets& local) -> std::unique_ptr<sio::Adapter> {
    auto link = std::make_shared<NamespaceLink>(*this, std::string(nsp), local);
    run_home([this, link] {
      namespaces_[link->nsp()] = link;
      link->subscribe();
    });
    return std::make_unique<RedisAdapter>(std::move(link));
  };
}

}  // namespace iogate::adapter::redis
