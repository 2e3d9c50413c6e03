#include "app/services/services.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace iogate::app {

namespace json = boost::json;

namespace {

json::object notification_body(const Notification& notification) {
  json::object body{{"title", notification.title},
                    {"message", notification.message},
                    {"type", notification.type},
                    {"timestamp", iso_timestamp()}};
  if (!notification.data.is_null()) {
    body["data"] = notification.data;
  }
  return body;
}

const json::value* field(const json::object& object, std::string_view name) { return object.if_contains(name); }

std::string text_of(const json::value* value) {
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

}  // namespace

// A batch size of 0 would never be "full" for the loop in enqueue() (and a flush would take
// nothing): it spun forever. 0 means what 1 means: no batching.
Services::Services(Gateway& gateway, std::size_t batch_size)
    : gateway_(gateway), batch_size_(std::max<std::size_t>(batch_size, 1)) {}

void Services::emit(const EmitTarget& target, const std::string& event, const json::value& data) {
  if (target.addressed && target.rooms.empty() && target.users.empty()) {
    return;
  }
  auto selection = gateway_.io().of(target.nsp).selection();
  for (const auto& room : target.rooms) {
    selection = selection.to(room);
  }
  for (const auto& user : target.users) {
    selection = selection.to(user_room(user_key(user)));
  }
  for (const auto& room : target.except) {
    selection = selection.except(room);
  }
  if (target.is_volatile) {
    selection = selection.volatile_();
  }
  selection.emit(event, json::array{data});
}

void Services::notify_all(const std::string& nsp, const Notification& notification) {
  gateway_.io().of(nsp).emit("system:notification", json::array{notification_body(notification)});
}

void Services::notify_users(const std::string& nsp, const std::vector<json::value>& user_ids,
                            const Notification& notification) {
  auto selection = gateway_.io().of(nsp).selection();
  for (const auto& user : user_ids) {
    selection = selection.to(user_room(user_key(user)));
  }
  selection.emit("user:notification", json::array{notification_body(notification)});
}

void Services::notify_room(const std::string& nsp, const std::string& room_id, const Notification& notification) {
  auto body = notification_body(notification);
  body["roomId"] = room_id;
  gateway_.io().of(nsp).to(room_id).emit("room:notification", json::array{std::move(body)});
}

void Services::data_update(const std::string& nsp, const std::string& type, const json::value& data,
                           const std::vector<json::value>& target_users) {
  json::object payload{{"type", type}, {"data", data}, {"timestamp", iso_timestamp()}};
  auto selection = gateway_.io().of(nsp).selection();
  for (const auto& user : target_users) {
    selection = selection.to(user_room(user_key(user)));
  }
  selection.emit("data:update", json::array{std::move(payload)});
}

void Services::push_online_users(const std::string& nsp, Reach reach) {
  auto& io_nsp = gateway_.io().of(nsp);
  auto target = reach == Reach::this_node ? io_nsp.local() : io_nsp.selection();
  // Broadcasts may go out from any thread, so the push leaves from wherever the store answers.
  gateway_.presence().online_users(nsp, [target, nsp](std::optional<std::vector<std::string>> online) {
    if (!online) {
      spdlog::warn("event=online-users-skipped nsp={} note=\"presence store unavailable\"", nsp);
      return;
    }
    json::array users;
    for (const auto& user : *online) {
      users.push_back(id_from_presence(user));
    }
    json::object stats{{"total", users.size()}, {"users", std::move(users)}, {"timestamp", iso_timestamp()}};
    target.emit("stats:online-users", json::array{std::move(stats)});
  });
}

void Services::disconnect_user(const std::string& nsp, const json::value& user_id) {
  spdlog::info("event=force-disconnect nsp={} user={}", nsp, user_key(user_id));
  gateway_.io().of(nsp).to(user_room(user_key(user_id))).disconnect_sockets(true);
}

std::optional<std::string> Services::business_event(const std::string& nsp, const std::string& name,
                                                    const json::object& payload) {
  auto& io = gateway_.io();
  if (name == "user.created") {
    const auto* user = field(payload, "user");
    if (user == nullptr || !user->is_object() || !user->as_object().contains("id") ||
        user_key(user->as_object().at("id")).empty()) {
      return "user.created needs user {id, username, createdAt}";
    }
    const auto& object = user->as_object();
    std::string username = text_of(object.if_contains("username"));
    notify_all(nsp, Notification{"新用户注册", "用户 " + username + " 已成功注册", "info",
                                 json::object{{"userId", object.at("id")}}});
    json::object summary{{"id", object.at("id")}, {"username", username}};
    if (const auto* created = object.if_contains("createdAt")) {
      summary["createdAt"] = *created;
    }
    io.of(nsp).emit("user:created", json::array{json::object{{"user", std::move(summary)}}});
    return std::nullopt;
  }
  if (name == "user.login") {
    const auto* user = field(payload, "user");
    if (user == nullptr || !user->is_object() || !user->as_object().contains("id") ||
        user_key(user->as_object().at("id")).empty()) {
      return "user.login needs user {id, username} and ip";
    }
    const auto& object = user->as_object();
    std::string ip = text_of(field(payload, "ip"));
    if (ip.empty()) {
      return "user.login needs ip (string)";
    }
    notify_all(nsp, Notification{"用户登录", "用户 " + text_of(object.if_contains("username")) + " 从 " + ip + " 登录",
                                 "info", json::object{{"userId", object.at("id")}, {"ip", ip}}});
    push_online_users(nsp);
    return std::nullopt;
  }
  if (name == "user.updated") {
    const auto* user_id = field(payload, "userId");
    if (user_id == nullptr || user_key(*user_id).empty()) {
      return "user.updated needs userId (and user {id, username, updatedAt})";
    }
    json::object summary{{"id", *user_id}};
    if (const auto* user = field(payload, "user"); user && user->is_object()) {
      for (const auto* key : {"id", "username", "updatedAt"}) {
        if (const auto* value = user->as_object().if_contains(key)) {
          summary[key] = *value;
        }
      }
    }
    io.of(nsp).to(user_room(user_key(*user_id))).emit("user:profile:updated",
                                                      json::array{json::object{{"user", std::move(summary)}}});
    return std::nullopt;
  }
  if (name == "user.deleted") {
    const auto* user_id = field(payload, "userId");
    if (user_id == nullptr || user_key(*user_id).empty()) {
      return "user.deleted needs userId";
    }
    disconnect_user(nsp, *user_id);
    io.of(nsp).emit("user:deleted", json::array{json::object{{"userId", *user_id}}});
    return std::nullopt;
  }
  if (name == "data.updated") {
    const auto* type = field(payload, "type");
    if (type == nullptr || !type->is_string() || !payload.contains("data")) {
      return "data.updated needs type (string) and data";
    }
    // targetUsers, when given, must be user ids: anything else used to be ignored, and a
    // non-array sent the update to everyone.
    std::vector<json::value> targets;
    if (const auto* users = field(payload, "targetUsers")) {
      if (!users->is_array()) {
        return "data.updated: targetUsers must be an array of user ids";
      }
      for (const auto& user : users->as_array()) {
        if (user_key(user).empty()) {
          return "data.updated: targetUsers must be an array of user ids";
        }
      }
      targets.assign(users->as_array().begin(), users->as_array().end());
    }
    data_update(nsp, std::string(type->as_string()), payload.at("data"), targets);
    return std::nullopt;
  }
  if (name == "system.warning") {
    const auto* message = field(payload, "message");
    std::string level = text_of(field(payload, "level"));
    if (message == nullptr || !message->is_string() || (level != "low" && level != "medium" && level != "high")) {
      return "system.warning needs message (string) and level (low, medium or high)";
    }
    const auto* data = field(payload, "data");
    notify_all(nsp, Notification{"系统警告", std::string(message->as_string()), "warning", data ? *data : nullptr});
    return std::nullopt;
  }
  if (name == "system.error") {
    const auto* message = field(payload, "message");
    if (message == nullptr || !message->is_string()) {
      return "system.error needs message (string)";
    }
    const auto* error = field(payload, "error");
    notify_all(nsp, Notification{"系统错误", std::string(message->as_string()), "error", error ? *error : nullptr});
    return std::nullopt;
  }
  return "unknown event " + name +
         " (user.created, user.login, user.updated, user.deleted, data.updated, system.warning, system.error)";
}

void Services::send(const BatchMessage& message) {
  auto& nsp = gateway_.io().of(message.nsp);
  if (message.user_id) {
    nsp.to(user_room(user_key(*message.user_id))).emit(message.event, json::array{message.data});
  } else if (message.room_id) {
    nsp.to(*message.room_id).emit(message.event, json::array{message.data});
  } else {
    nsp.emit(message.event, json::array{message.data});
  }
}

void Services::enqueue(std::vector<BatchMessage> messages) {
  auto full = [this] {
    std::lock_guard lock(batch_mutex_);
    return batch_.size() >= batch_size_;
  };
  {
    std::lock_guard lock(batch_mutex_);
    for (auto& message : messages) {
      batch_.push_back(std::move(message));
    }
  }
  while (full()) {
    flush();
  }
}

std::size_t Services::flush() {
  std::lock_guard flushing(flush_mutex_);
  std::vector<BatchMessage> taken;
  {
    std::lock_guard lock(batch_mutex_);
    std::size_t count = std::min(batch_.size(), batch_size_);
    taken.assign(std::make_move_iterator(batch_.begin()), std::make_move_iterator(batch_.begin() + count));
    batch_.erase(batch_.begin(), batch_.begin() + count);
  }
  for (const auto& message : taken) {
    send(message);
  }
  if (!taken.empty()) {
    spdlog::debug("event=batch-flushed messages={}", taken.size());
  }
  return taken.size();
}

}  // namespace iogate::app
