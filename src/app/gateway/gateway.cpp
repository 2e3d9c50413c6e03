#include "app/gateway/gateway.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <spdlog/spdlog.h>

#include "core/random_id.h"
#include "core/utf8.h"

namespace iogate::app {

namespace json = boost::json;
namespace asio = boost::asio;
using auth::JwtError;
using auth::JwtVerifier;

namespace {

const json::value* member(const json::value& value, std::string_view key) {
  const auto* object = value.if_object();
  return object == nullptr ? nullptr : object->if_contains(key);
}

// auth.token wins, then the Authorization header, then the query (EIO3 clients have no auth).
std::optional<std::string> extract_token(sio::Socket& socket) {
  if (const auto* token = member(socket.auth(), "token"); token && token->is_string() && !token->as_string().empty()) {
    return std::string(token->as_string());
  }
  const auto& handshake = socket.handshake();
  if (const auto header = handshake.headers.find("authorization")) {
    std::string_view value = *header;
    if (value.size() > 7 && (value.starts_with("Bearer ") || value.starts_with("bearer "))) {
      return std::string(value.substr(7));
    }
  }
  if (const auto token = handshake.query.find("token"); token && !token->empty()) {
    return std::string(*token);
  }
  return std::nullopt;
}

sio::ConnectError refusal(std::string message, std::string_view code) {
  return sio::ConnectError{std::move(message), json::object{{"code", code}}};
}

std::string_view code_of(JwtError error) {
  switch (error) {
    case JwtError::malformed: return "AUTH_TOKEN_MALFORMED";
    case JwtError::algorithm_not_allowed: return "AUTH_ALGORITHM_NOT_ALLOWED";
    case JwtError::bad_signature: return "AUTH_SIGNATURE_INVALID";
    case JwtError::expired: return "AUTH_TOKEN_EXPIRED";
    case JwtError::not_yet_valid: return "AUTH_TOKEN_NOT_YET_VALID";
    case JwtError::none: break;
  }
  return "AUTH_TOKEN_MALFORMED";
}

bool status_is_active(const json::value* status) {
  if (status == nullptr) {
    return false;
  }
  if (status->is_int64()) {
    return status->get_int64() == 1;
  }
  if (status->is_uint64()) {
    return status->get_uint64() == 1;
  }
  return status->is_double() && status->get_double() == 1.0;
}

std::string user_of(sio::Socket& socket);
std::string loggable(std::string_view text);

void send_error(sio::Socket& socket, std::string message, std::string_view event, const json::value* data = nullptr) {
  spdlog::info("event=client-error nsp={} sid={} user={} client_event={} message=\"{}\"", socket.nsp().name(),
               socket.id(), loggable(user_of(socket)), loggable(event), loggable(message));
  json::object body{{"message", std::move(message)}, {"event", event}, {"timestamp", iso_timestamp()}};
  if (data != nullptr) {
    body["data"] = *data;
  }
  socket.emit("error", json::array{std::move(body)});
}

bool valid_room_name(std::string_view room, std::size_t max_length) {
  if (room.empty() || room.size() > max_length) {
    return false;
  }
  for (char c : room) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                   c == '-' || c == ':' || c == '.';
    if (!allowed) {
      return false;
    }
  }
  return true;
}

std::string presence_key(const std::string& nsp, const std::string& user) { return nsp + '\n' + user; }


// Set on the socket's data by admit() for on_connection: "first" (announce the user), "added",
// or "unrecorded" (the store did not answer: nobody announced the user yet).
constexpr std::string_view kPresenceMarker = "_iogate_presence";

// user:online / user:offline: [{userId, username, timestamp}].
json::array presence_event(const json::value& id, json::value username) {
  return json::array{json::object{{"userId", id}, {"username", std::move(username)}, {"timestamp", iso_timestamp()}}};
}

// A re-sync leaves records younger than this: connections whose add has been answered but not
// yet seen here.
constexpr std::chrono::seconds kResyncMinAge{10};

// The username a presence store kept for a user; null when it has none.
json::value stored_username(const PresenceUser& user) {
  return user.username ? json::value(json::string(*user.username)) : json::value(nullptr);
}

// The payload with the time it is sent at.
json::array refresh_timestamp(json::array payload) {
  payload[0].as_object()["timestamp"] = iso_timestamp();
  return payload;
}

}  // namespace

namespace {

// Client-chosen text in a log line: bounded, one line, no quotes to break the key=value form.
std::string loggable(std::string_view text) {
  constexpr std::size_t kMax = 64;
  std::string out;
  for (char c : text.substr(0, kMax)) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f || c == '"' || c == '\\' ? '?' : c);
  }
  if (text.size() > kMax) {
    out += "...";
  }
  return out;
}

// The user id a socket authenticated as, for log lines.
std::string user_of(sio::Socket& socket) {
  const auto* user = socket.data().if_contains("user");
  const auto* id = user != nullptr && user->is_object() ? user->as_object().if_contains("id") : nullptr;
  return id != nullptr ? user_key(*id) : std::string("-");
}

}  // namespace

std::string iso_timestamp(std::chrono::system_clock::time_point time) {
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis % 1000));
  return buffer;
}

// The user a connection authenticated as, shared by that socket's handlers and timers.
struct Gateway::SocketUser {
  json::value id;
  std::string key;          // text form: rooms
  std::string presence_key;  // JSON form: presence
  std::string username;
  std::string nsp;
  std::optional<double> expires_at;  // seconds since the epoch (the token's exp)
  std::unique_ptr<asio::steady_timer> expiry_timer;
};

struct Gateway::State {
  std::mutex mutex;
  // Offline announcements waiting for the grace period: a reconnect within it cancels them.
  std::map<std::string, std::uint64_t> pending_offline;  // presence key -> generation
  std::uint64_t generation = 0;
  // This node's connections, every shard's, for reconcile(): socket id -> connection.
  std::map<std::string, LiveConnection> live;
  // The latest presence re-sync; the cluster's home loop only.
  std::uint64_t resync_generation = 0;
};

Gateway::Gateway(sio::Server& io, GatewayConfig config, JwtVerifier verifier, PresenceStore& presence,
                 RateLimiter& rate_limiter)
    : io_(io),
      config_(std::move(config)),
      verifier_(std::move(verifier)),
      presence_(presence),
      rate_limiter_(rate_limiter),
      state_(std::make_shared<State>()) {}

Gateway::~Gateway() = default;

sio::Namespace* Gateway::gateway_namespace(const std::string& name) {
  return config_.namespaces.contains(name) ? &io_.of(name) : nullptr;
}

void Gateway::install() {
  // "/" always exists in a Socket.IO server; unless it is a gateway, nobody may use it.
  // Socket.IO 2 clients are joined to "/" implicitly, and their client library turns an error
  // there into an error on every socket: that connection stays, with no handler to reach.
  if (!config_.namespaces.contains("/")) {
    io_.of("/").use([](sio::Socket& socket, auto next) {
      const auto& query = socket.handshake().query;
      bool implicit = std::any_of(query.begin(), query.end(),
                                  [](const auto& pair) { return pair.first == "EIO" && pair.second == "3"; });
      next(implicit ? std::nullopt : std::optional<sio::ConnectError>(sio::ConnectError{"Invalid namespace", nullptr}));
    });
  }

  // Users whose every connection was on a node that stopped (a cluster store's sweep).
  presence_.on_users_gone([this](std::vector<PresenceUser> users) {
    for (const auto& gone : users) {
      if (auto* nsp = gateway_namespace(gone.nsp)) {
        spdlog::info("event=presence-node-gone nsp={} user={}", gone.nsp, loggable(gone.user));
        nsp->emit("user:offline", presence_event(id_from_presence(gone.user), stored_username(gone)));
      }
    }
  });
  presence_.on_resync_needed([this] { resync_presence(); });

  for (const auto& entry : config_.namespaces) {
    const std::string& nsp_name = entry.first;
    auto& nsp = io_.of(nsp_name);
    std::set<std::string> enabled(entry.second.begin(), entry.second.end());

    nsp.use([this, nsp_name](sio::Socket& socket, Next next) {
      auto token = extract_token(socket);
      if (!token) {
        spdlog::info("event=refused nsp={} sid={} code=AUTH_TOKEN_MISSING", nsp_name, socket.id());
        next(refusal("Authentication required: no token", "AUTH_TOKEN_MISSING"));
        return;
      }
      auto verified = verifier_.verify(*token, std::chrono::system_clock::now(), config_.auth.leeway);
      if (!verified) {
        spdlog::info("event=refused nsp={} sid={} code={}", nsp_name, socket.id(), code_of(verified.error));
        next(refusal(std::string("Authentication failed: ") + std::string(to_string(verified.error)),
                     code_of(verified.error)));
        return;
      }
      const auto& claims = verified.claims;
      const json::value* id = claims.if_contains(config_.auth.id_claim);
      std::string key = id ? user_key(*id) : std::string();
      if (key.empty()) {
        spdlog::info("event=refused nsp={} sid={} code=AUTH_USER_ID_MISSING", nsp_name, socket.id());
        next(refusal("Authentication failed: the token has no user id", "AUTH_USER_ID_MISSING"));
        return;
      }
      if (config_.auth.require_status && !status_is_active(claims.if_contains("status"))) {
        spdlog::info("event=refused nsp={} sid={} user={} code=AUTH_USER_INACTIVE", nsp_name, socket.id(), key);
        next(refusal("Authentication failed: the user is not active", "AUTH_USER_INACTIVE"));
        return;
      }
      const json::value* username = claims.if_contains(config_.auth.username_claim);
      json::object user{{"id", *id}, {"username", username ? *username : json::value(nullptr)}};
      if (const json::value* exp = claims.if_contains("exp")) {
        user["exp"] = *exp;
      }
      // As the presence events name the user (SocketUser::username).
      std::string name = username && username->is_string() ? std::string(username->as_string()) : std::string();
      presence_.add(nsp_name, presence_id(*id), name, socket.id(), config_.max_connections_per_user,
                    config_.evict_oldest_connection,
                    [this, socket = socket.shared_from_this(), next = std::move(next),
                     user = std::move(user)](PresenceStore::Added added) mutable {
                      // The store may answer on another thread; the socket and `next` are its shard's.
                      asio::dispatch(socket->context(), [this, socket, next = std::move(next), user = std::move(user),
                                                         added = std::move(added)]() mutable {
                        admit(*socket, next, std::move(user), added);
                      });
                    });
    });

    nsp.on_connection([this, nsp_name, enabled](sio::Socket& socket) {
      auto user = std::make_shared<SocketUser>();
      const auto& stored = socket.data()["user"].as_object();
      user->id = stored.at("id");
      user->key = user_key(user->id);
      user->presence_key = presence_id(user->id);
      user->nsp = nsp_name;
      if (const auto* name = stored.if_contains("username"); name && name->is_string()) {
        user->username = std::string(name->as_string());
      }
      if (const auto* exp = stored.if_contains("exp"); exp && exp->is_number()) {
        user->expires_at = exp->to_number<double>();
      }
      const auto& marker = socket.data()[kPresenceMarker].as_string();
      bool first = marker == "first";
      bool announced = marker != "unrecorded";
      socket.data().erase(kPresenceMarker);
      {
        std::lock_guard lock(state_->mutex);
        state_->live[socket.id()] = LiveConnection{nsp_name,        user->presence_key, socket.id(),
                                                   std::chrono::system_clock::now(), user->username, announced};
      }

      socket.join(user_room(user->key));
      spdlog::info("event=connect nsp={} sid={} user={}", nsp_name, socket.id(), user->key);
      socket.emit("connected", json::array{json::object{
                                   {"message", "连接成功"},
                                   {"user", json::object{{"id", user->id}, {"username", user->username}}}}});
      if (first) {
        bool was_pending = false;
        {
          std::lock_guard lock(state_->mutex);
          was_pending = state_->pending_offline.erase(presence_key(nsp_name, user->presence_key)) > 0;
        }
        if (!was_pending) {
          socket.nsp().emit("user:online", presence_event(user->id, json::string(user->username)));
        }
      }

      if (user->expires_at) {
        auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
        // Clamped: a far exp (e.g. 9999-12-31) overflows steady_clock's nanoseconds and would fire at once.
        constexpr double kMaxWaitSeconds = 100.0 * 365 * 24 * 3600;
        double seconds_left = std::clamp(*user->expires_at - now, 0.0, kMaxWaitSeconds);
        auto remaining = std::chrono::milliseconds(static_cast<std::int64_t>(seconds_left * 1000));
        user->expiry_timer = std::make_unique<asio::steady_timer>(socket.context());
        user->expiry_timer->expires_after(remaining);
        user->expiry_timer->async_wait([weak = socket.weak_from_this()](boost::system::error_code ec) {
          auto expired = weak.lock();
          if (ec || !expired || !expired->connected()) {
            return;
          }
          spdlog::info("event=token-expired nsp={} sid={}", expired->nsp().name(), expired->id());
          json::object body{{"message", "Token expired"}, {"event", "auth"}, {"timestamp", iso_timestamp()},
                            {"code", "AUTH_TOKEN_EXPIRED"}};
          expired->emit("error", json::array{std::move(body)});
          expired->disconnect();
        });
      }

      // The rate limit, before any handler: an event goes on only once the limiter allows it.
      socket.use([this, user, enabled](sio::Socket& s, sio::Event& event,
                                       std::function<void(std::optional<std::string>)> next) {
        // Unknown events share one budget, so made-up names cannot multiply the limit.
        bool known = enabled.contains(event.name);
        auto rule_it = config_.event_rate_limits.find(event.name);
        RateLimit rule = !known || rule_it == config_.event_rate_limits.end() ? config_.rate_limit : rule_it->second;
        std::string_view budget = known ? std::string_view(event.name) : std::string_view("\n*unknown*");
        rate_limiter_.allow(
            user->nsp + '\n' + user->key + '\n' + std::string(budget), rule,
            [socket = s.shared_from_this(), user, rule, name = event.name,
             next = std::move(next)](bool allowed) mutable {
              asio::dispatch(socket->context(), [socket, user, rule, name = std::move(name), next = std::move(next),
                                                 allowed] {
                if (allowed) {
                  next(std::nullopt);
                  return;
                }
                spdlog::info("event=rate-limited nsp={} sid={} user={} client_event={}", user->nsp, socket->id(),
                             loggable(user->key), loggable(name));
                socket->emit("rate:limit:exceeded",
                             json::array{json::object{{"event", name},
                                                      {"limit", rule.limit},
                                                      {"window", rule.window_seconds},
                                                      {"message", "Too many " + name + " events: at most " +
                                                                      std::to_string(rule.limit) + " per " +
                                                                      std::to_string(rule.window_seconds) + " s"}}});
              });
            });
      });

      socket.on_any([this, user, enabled](sio::Socket& s, sio::Event& event) {
        if (!enabled.contains(event.name)) {
          send_error(s, "Unknown event", event.name);
          return;
        }
        handle_event(s, event, *user);
      });

      socket.on_disconnect([this, user](sio::Socket& s, std::string_view reason) {
        if (user->expiry_timer) {
          user->expiry_timer->cancel();
        }
        spdlog::info("event=disconnect nsp={} sid={} user={} reason=\"{}\"", user->nsp, s.id(), user->key, reason);
        {
          std::lock_guard lock(state_->mutex);
          state_->live.erase(s.id());
        }
        presence_.remove(user->nsp, user->presence_key, s.id(),
                         [this, user, &nsp = s.nsp(), &context = s.context()](bool last) {
                           if (last) {
                             asio::dispatch(context,
                                            [this, user, &nsp, &context] { announce_offline(nsp, context, *user); });
                           }
                         });
      });
    });
  }
}

// On the socket's shard, once the presence store has answered.
void Gateway::admit(sio::Socket& socket, const Next& next, json::object user, const PresenceStore::Added& added) {
  const std::string& nsp_name = socket.nsp().name();
  const json::value id = user.at("id");
  const std::string key = user_key(id);
  if (added.result == PresenceStore::AddResult::refused) {
    spdlog::info("event=limit nsp={} sid={} user={} code=CONNECTION_LIMIT", nsp_name, socket.id(), key);
    next(sio::ConnectError{"Too many connections",
                           json::object{{"code", "CONNECTION_LIMIT"}, {"limit", config_.max_connections_per_user}}});
    return;
  }
  if (added.result == PresenceStore::AddResult::unrecorded) {
    // Fail open: a presence store that does not answer must not keep users out. The record is
    // made when the store is back (reconcile), which also announces the user then.
    spdlog::warn("event=presence-unrecorded nsp={} sid={} user={} note=\"presence store unavailable; accepted\"",
                 nsp_name, socket.id(), key);
  }
  if (added.evicted) {
    spdlog::info("event=evicted nsp={} sid={} user={}", nsp_name, *added.evicted, key);
    socket.nsp().to(*added.evicted).emit(
        "error", json::array{json::object{{"message", "Connection replaced by a newer one"},
                                          {"event", "connect"},
                                          {"timestamp", iso_timestamp()},
                                          {"code", "CONNECTION_LIMIT"}}});
    socket.nsp().to(*added.evicted).disconnect_sockets();
  }
  bool first = added.result == PresenceStore::AddResult::first_connection;
  json::value username = user.at("username");
  socket.data()["user"] = std::move(user);
  socket.data()[kPresenceMarker] = first                                                 ? "first"
                                   : added.result == PresenceStore::AddResult::unrecorded ? "unrecorded"
                                                                                          : "added";
  next(std::nullopt);
  // This middleware is the namespace's last, so on_connection has run by now (and taken the
  // marker) unless the client left while the store was answering. Then no disconnect will
  // remove the record: remove it here, and announce what the user's state became.
  if (added.result == PresenceStore::AddResult::unrecorded || !socket.data().contains(kPresenceMarker)) {
    return;
  }
  spdlog::info("event=abandoned nsp={} sid={} user={}", nsp_name, socket.id(), key);
  presence_.remove(nsp_name, presence_id(id), socket.id(),
                   [&nsp = socket.nsp(), id, username, first](bool last) {
                     if (first && !last) {
                       nsp.emit("user:online", presence_event(id, username));  // online, and nobody said so
                     } else if (!first && last) {
                       nsp.emit("user:offline", presence_event(id, username));
                     }
                   });
}

void Gateway::announce_offline(sio::Namespace& nsp, asio::io_context& context, const SocketUser& user) {
  json::array payload = presence_event(user.id, json::string(user.username));
  if (config_.offline_grace.count() == 0) {
    presence_.is_online(user.nsp, user.presence_key, [&nsp, payload = std::move(payload)](std::optional<bool> online) {
      if (online.value_or(false)) {
        return;  // a new connection came in meanwhile, on another shard or node
      }
      nsp.emit("user:offline", refresh_timestamp(payload));
    });
    return;
  }
  std::string key = presence_key(user.nsp, user.presence_key);
  std::uint64_t generation;
  {
    std::lock_guard lock(state_->mutex);
    generation = ++state_->generation;
    state_->pending_offline[key] = generation;
  }
  auto timer = std::make_shared<asio::steady_timer>(context, config_.offline_grace);
  timer->async_wait([&presence = presence_, timer, key, generation, &nsp, payload = std::move(payload),
                     nsp_name = user.nsp, presence_key = user.presence_key,
                     state = state_](boost::system::error_code ec) mutable {
    if (ec) {
      return;
    }
    presence.is_online(nsp_name, presence_key, [key, generation, &nsp, payload = std::move(payload),
                                                state = std::move(state)](std::optional<bool> online) {
      if (online.value_or(false)) {
        return;
      }
      {
        std::lock_guard lock(state->mutex);
        auto it = state->pending_offline.find(key);
        if (it == state->pending_offline.end() || it->second != generation) {
          return;
        }
        state->pending_offline.erase(it);
      }
      nsp.emit("user:offline", refresh_timestamp(payload));
    });
  });
}

void Gateway::handle_event(sio::Socket& socket, sio::Event& event, const SocketUser& user) {
  const json::value empty;
  const json::value& data = event.payload.args.empty() ? empty : event.payload.args[0];
  const std::string& name = event.name;

  if (name == "ping" || name == "app:ping") {
    if (event.wants_ack()) {
      event.ack(json::array{"pong"});
    }
    return;
  }
  if (!data.is_object()) {
    send_error(socket, "Invalid message format: an object is expected", name, &data);
    return;
  }
  // Characters as JavaScript counts them (UTF-16 units), not bytes.
  auto too_long = [this](const json::string& text) {
    return core::utf16_length(std::string_view(text)) > config_.max_message_length;
  };
  auto text_field = [&](std::string_view field) -> const json::string* {
    const auto* value = member(data, field);
    return value && value->is_string() ? &value->as_string() : nullptr;
  };

  if (name == "private:message") {
    const auto* to = member(data, "toUserId");
    const auto* message = text_field("message");
    std::string to_key = to ? user_key(*to) : std::string();
    if (to_key.empty() || message == nullptr || message->empty() || too_long(*message)) {
      send_error(socket,
                 "Invalid private message: toUserId (string or number) and message (1 to " +
                     std::to_string(config_.max_message_length) + " characters) are required",
                 name, &data);
      return;
    }
    std::string message_id = core::random_id(21);
    std::string timestamp = iso_timestamp();
    socket.nsp().to(user_room(to_key)).emit(
        "private:message", json::array{json::object{{"fromUserId", user.id},
                                                    {"fromUsername", user.username},
                                                    {"toUserId", *to},
                                                    {"message", *message},
                                                    {"messageId", message_id},
                                                    {"timestamp", timestamp}}});
    socket.emit("message:sent",
                json::array{json::object{{"messageId", message_id}, {"toUserId", *to}, {"timestamp", timestamp}}});
    return;
  }

  const auto* room = text_field("roomId");
  if (room == nullptr || !valid_room_name(*room, config_.max_room_name_length)) {
    send_error(socket,
               "Invalid roomId: 1 to " + std::to_string(config_.max_room_name_length) +
                   " characters of letters, digits, '_', '-', ':' and '.'",
               name, &data);
    return;
  }
  std::string room_id(*room);
  if (room_id.starts_with("user:")) {
    send_error(socket, "Rooms named user:… belong to the server", name, &data);
    return;
  }

  json::object who{{"userId", user.id}, {"username", user.username}, {"roomId", room_id}};

  if (name == "room:join") {
    // The socket's own id room and its user room are not the client's to count.
    if (!socket.in_room(room_id) && socket.rooms().size() >= config_.max_rooms_per_connection + 2) {
      send_error(socket, "Too many rooms: at most " + std::to_string(config_.max_rooms_per_connection), name, &data);
      return;
    }
    socket.join(room_id);
    socket.emit("room:joined", json::array{json::object{{"roomId", room_id}}});
    socket.to(room_id).emit("room:user:joined", json::array{std::move(who)});
  } else if (name == "room:leave") {
    if (!socket.in_room(room_id)) {
      send_error(socket, "Not a member of room " + room_id, name, &data);
      return;
    }
    socket.leave(room_id);
    socket.emit("room:left", json::array{json::object{{"roomId", room_id}}});
    socket.to(room_id).emit("room:user:left", json::array{std::move(who)});
  } else if (name == "room:message") {
    const auto* message = text_field("message");
    if (message == nullptr || message->empty() || too_long(*message)) {
      send_error(socket,
                 "Invalid room message: message (1 to " + std::to_string(config_.max_message_length) +
                     " characters) is required",
                 name, &data);
      return;
    }
    if (!socket.in_room(room_id)) {
      send_error(socket, "Not a member of room " + room_id, name, &data);
      return;
    }
    socket.nsp().to(room_id).emit("room:message", json::array{json::object{{"roomId", room_id},
                                                                          {"fromUserId", user.id},
                                                                          {"fromUsername", user.username},
                                                                          {"message", *message},
                                                                          {"timestamp", iso_timestamp()}}});
  }
}

void Gateway::clean_stale_presence() {
  rate_limiter_.prune();
  // Records younger than this may belong to connections still completing.
  constexpr std::chrono::seconds kStaleAge{60};
  reconcile_presence(std::chrono::system_clock::now() - kStaleAge, false);
}

void Gateway::wait_for_cluster(asio::io_context& home, std::function<bool()> connected) {
  cluster_home_ = &home;
  cluster_connected_ = std::move(connected);
}

// Redis came back, maybe empty (restarted): this node's connections may have no record. In a
// cluster, in two steps, once the cluster adapter is back too (or has been waited for long
// enough), so that what is announced reaches the other nodes:
//   1. the connections whose users were announced online: back silently when Redis lost them (the
//      users never went offline), nothing forgotten yet;
//   2. presence_resync_settle later, when the other nodes have brought back theirs: everything,
//      so that a user who connected while Redis was away is announced online, unless another
//      node's connection of it, announced before, came back meanwhile.
void Gateway::resync_presence() {
  if (cluster_home_ == nullptr) {
    reconcile_presence(std::chrono::system_clock::now() - kResyncMinAge, false);
    return;
  }
  auto& home = *cluster_home_;
  asio::dispatch(home, [this, &home] {
    std::uint64_t resync = ++state_->resync_generation;
    auto wait = [this] { return std::chrono::steady_clock::now() + config_.presence_resync_cluster_wait; };
    when_cluster_ready(resync, wait(), [this, &home, resync, wait] {
      reconcile_presence(std::chrono::system_clock::time_point::min(), true);
      auto settle = std::make_shared<asio::steady_timer>(home, config_.presence_resync_settle);
      settle->async_wait([this, settle, resync, wait](boost::system::error_code ec) {
        if (ec) {
          return;
        }
        when_cluster_ready(resync, wait(),
                           [this] { reconcile_presence(std::chrono::system_clock::now() - kResyncMinAge, false); });
      });
    });
  });
}

void Gateway::when_cluster_ready(std::uint64_t resync, std::chrono::steady_clock::time_point deadline,
                                 std::function<void()> then) {
  if (resync != state_->resync_generation) {
    return;  // a newer re-sync has taken over
  }
  if (cluster_connected_()) {
    then();
    return;
  }
  if (std::chrono::steady_clock::now() >= deadline) {
    spdlog::warn("event=presence-resync-cluster-away waited_ms={} note=\"the cluster adapter's Redis links are not "
                 "back: re-syncing presence anyway; other nodes may miss its announcements\"",
                 config_.presence_resync_cluster_wait.count());
    then();
    return;
  }
  constexpr std::chrono::milliseconds kPoll{50};
  auto timer = std::make_shared<asio::steady_timer>(*cluster_home_, kPoll);
  timer->async_wait([this, timer, resync, deadline, then = std::move(then)](boost::system::error_code ec) mutable {
    if (!ec) {
      when_cluster_ready(resync, deadline, std::move(then));
    }
  });
}

void Gateway::reconcile_presence(std::chrono::system_clock::time_point cutoff, bool announced_only) {
  std::vector<LiveConnection> live;
  {
    std::lock_guard lock(state_->mutex);
    live.reserve(state_->live.size());
    for (const auto& [socket_id, connection] : state_->live) {
      if (connection.announced || !announced_only) {
        live.push_back(connection);
      }
    }
  }
  std::map<std::pair<std::string, std::string>, std::string> usernames;  // (nsp, user) -> username
  for (const auto& connection : live) {
    usernames[{connection.nsp, connection.user}] = connection.username;
  }
  std::vector<LiveConnection> snapshot = live;
  presence_.reconcile(std::move(live), cutoff, [this, snapshot = std::move(snapshot),
                                                usernames = std::move(usernames)](PresenceChanges changes) {
    auto username_of = [&usernames](const PresenceUser& user) -> json::value {
      if (user.username) {
        return json::string(*user.username);
      }
      auto name = usernames.find({user.nsp, user.user});
      return name == usernames.end() ? json::value(nullptr) : json::value(json::string(name->second));
    };
    for (const auto& user : changes.online) {
      if (auto* nsp = gateway_namespace(user.nsp)) {
        spdlog::info("event=presence-recorded nsp={} user={}", user.nsp, loggable(user.user));
        nsp->emit("user:online", presence_event(id_from_presence(user.user), username_of(user)));
      }
    }
    for (const auto& user : changes.offline) {
      if (auto* nsp = gateway_namespace(user.nsp)) {
        spdlog::info("event=stale-presence nsp={} user={}", user.nsp, loggable(user.user));
        nsp->emit("user:offline", presence_event(id_from_presence(user.user), username_of(user)));
      }
    }
    // A socket that left while the reconcile ran may have been recorded again after its own
    // removal: remove it once more (a removal that finds nothing changes nothing). Those still
    // here are recorded now, and their users announced.
    std::vector<LiveConnection> departed;
    {
      std::lock_guard lock(state_->mutex);
      for (const auto& socket_id : changes.settled) {
        if (auto it = state_->live.find(socket_id); it != state_->live.end()) {
          it->second.announced = true;
        }
      }
      for (const auto& connection : snapshot) {
        if (!state_->live.contains(connection.socket_id)) {
          departed.push_back(connection);
        }
      }
    }
    for (const auto& connection : departed) {
      presence_.remove(connection.nsp, connection.user, connection.socket_id,
                       [this, connection](bool last) {
                         auto* nsp = gateway_namespace(connection.nsp);
                         if (last && nsp != nullptr) {
                           nsp->emit("user:offline", presence_event(id_from_presence(connection.user),
                                                                    json::string(connection.username)));
                         }
                       });
    }
  });
}

}  // namespace iogate::app
