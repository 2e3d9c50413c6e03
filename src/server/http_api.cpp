#include "server/http_api.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <boost/asio/dispatch.hpp>
#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include "net/shard_pool.h"

namespace iogate::server {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

// A request the API cannot serve: status and a message saying what is wrong.
struct ApiError {
  unsigned status;
  std::string message;
};

net::HttpResponse json_response(unsigned status, const json::value& body) {
  return net::HttpResponse{.status = status,
                           .headers = {{"Content-Type", "application/json"}},
                           .body = json::serialize(body),
                           .close = false};
}

json::object parse_body(const net::HttpRequest& request) {
  if (request.body.empty()) {
    throw ApiError{400, "a JSON object body is required"};
  }
  // Only application/json: a browser cannot send that cross-site without a preflight, which
  // this API never answers, so a page cannot drive a keyless loopback API.
  const std::string* content_type = request.header("content-type");
  std::string media_type = content_type == nullptr ? std::string() : content_type->substr(0, content_type->find(';'));
  std::transform(media_type.begin(), media_type.end(), media_type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!media_type.empty() && media_type.back() == ' ') {
    media_type.pop_back();
  }
  if (media_type != "application/json") {
    throw ApiError{415, "Content-Type must be application/json"};
  }
  boost::system::error_code ec;
  json::value value = json::parse(request.body, ec);
  if (ec) {
    throw ApiError{400, "invalid JSON: " + ec.message()};
  }
  if (!value.is_object()) {
    throw ApiError{400, "the body must be a JSON object"};
  }
  return std::move(value.as_object());
}

std::string required_string(const json::object& body, std::string_view name) {
  const auto* value = body.if_contains(name);
  if (value == nullptr) {
    throw ApiError{400, "missing field '" + std::string(name) + "'"};
  }
  if (!value->is_string() || value->as_string().empty()) {
    throw ApiError{400, "field '" + std::string(name) + "' must be a non-empty string"};
  }
  return std::string(value->as_string());
}

json::value required_user_id(const json::value* value, std::string_view name) {
  if (value == nullptr) {
    throw ApiError{400, "missing field '" + std::string(name) + "'"};
  }
  if (app::user_key(*value).empty()) {
    throw ApiError{400, "field '" + std::string(name) + "' must be a user id (string or number)"};
  }
  return *value;
}

std::vector<std::string> string_list(const json::object& body, std::string_view name) {
  std::vector<std::string> items;
  const auto* value = body.if_contains(name);
  if (value == nullptr) {
    return items;
  }
  if (!value->is_array()) {
    throw ApiError{400, "field '" + std::string(name) + "' must be an array of strings"};
  }
  for (const auto& item : value->as_array()) {
    if (!item.is_string() || item.as_string().empty()) {
      throw ApiError{400, "field '" + std::string(name) + "' must be an array of non-empty strings"};
    }
    items.emplace_back(item.as_string());
  }
  return items;
}

std::vector<json::value> user_list(const json::object& body, std::string_view name, bool required) {
  const auto* value = body.if_contains(name);
  if (value == nullptr) {
    if (required) {
      throw ApiError{400, "missing field '" + std::string(name) + "'"};
    }
    return {};
  }
  if (!value->is_array() || (required && value->as_array().empty())) {
    throw ApiError{400, "field '" + std::string(name) + "' must be " +
                            (required ? "a non-empty array" : "an array") + " of user ids"};
  }
  std::vector<json::value> users;
  for (const auto& item : value->as_array()) {
    users.push_back(required_user_id(&item, name));
  }
  return users;
}

app::Notification notification_from(const json::object& body) {
  app::Notification notification{required_string(body, "title"), required_string(body, "message"), "info", nullptr};
  if (body.contains("type")) {
    notification.type = required_string(body, "type");
    if (notification.type != "info" && notification.type != "success" && notification.type != "warning" &&
        notification.type != "error") {
      throw ApiError{400, "field 'type' must be info, success, warning or error"};
    }
  }
  if (const auto* data = body.if_contains("data")) {
    notification.data = *data;
  }
  return notification;
}


// The presence store (Redis, in a cluster) did not answer.
net::HttpResponse presence_unavailable() {
  return json_response(503, json::object{{"error", "presence is unavailable: the presence store does not answer"}});
}

bool key_matches(const std::string& expected, std::string_view given) {
  return given.size() == expected.size() && CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

}  // namespace

HttpApi::HttpApi(app::Services& services, std::string api_key) : services_(services), api_key_(std::move(api_key)) {}

void HttpApi::respond_on_shard(const std::shared_ptr<net::HttpConnection>& connection, net::HttpResponse response) {
  asio::dispatch(services_.gateway().io().pool().context(connection->shard()),
                 [connection, response = std::move(response)]() mutable { connection->respond(std::move(response)); });
}

void HttpApi::on_request(const std::shared_ptr<net::HttpConnection>& connection, net::HttpRequest& request) {
  const auto& namespaces = services_.gateway().config().namespaces;
  // The namespace of a request: "namespace" in the body or the query, "admin" or "/admin".
  auto namespace_of = [&](const json::object* body) {
    std::string name = "/admin";
    if (body != nullptr && body->contains("namespace")) {
      name = required_string(*body, "namespace");
    } else if (const auto* query = request.query_param("namespace")) {
      name = *query;
    }
    if (name.empty() || name.front() != '/') {
      name.insert(name.begin(), '/');
    }
    if (!namespaces.contains(name)) {
      throw ApiError{400, "unknown namespace '" + name + "'"};
    }
    return name;
  };

  try {
    if (!api_key_.empty()) {
      const std::string* header = request.header("x-api-key");
      const std::string* authorization = request.header("authorization");
      bool ok = (header != nullptr && key_matches(api_key_, *header)) ||
                (authorization != nullptr && authorization->starts_with("Bearer ") &&
                 key_matches(api_key_, std::string_view(*authorization).substr(7)));
      if (!ok) {
        throw ApiError{401, "missing or wrong API key (X-API-Key header or Authorization: Bearer)"};
      }
    }
    const std::string& path = request.path;
    bool get = request.method == net::Method::get;
    bool post = request.method == net::Method::post;

    if (get && path == "/api/health") {
      json::object connections;
      for (const auto& [name, events] : namespaces) {
        connections[name] = services_.gateway().io().of(name).local_socket_count();
      }
      connection->respond(json_response(200, json::object{{"status", "ok"}, {"connections", std::move(connections)}}));
      return;
    }
    if (get && path == "/api/presence") {
      std::string nsp = namespace_of(nullptr);
      auto& presence = services_.gateway().presence();
      presence.online_users(nsp, [this, connection, nsp, &presence](std::optional<std::vector<std::string>> online) {
        if (!online) {
          respond_on_shard(connection, presence_unavailable());
          return;
        }
        json::array users;
        for (const auto& user : *online) {
          users.push_back(app::id_from_presence(user));
        }
        presence.connection_count(nsp, [this, connection, nsp, users = std::move(users)](
                                           std::optional<std::size_t> count) mutable {
          respond_on_shard(connection, count ? json_response(200, json::object{{"namespace", nsp},
                                                                               {"total", users.size()},
                                                                               {"connections", *count},
                                                                               {"users", std::move(users)}})
                                             : presence_unavailable());
        });
      });
      return;
    }
    constexpr std::string_view kUserPresence = "/api/presence/users/";
    if (get && path.starts_with(kUserPresence) && path.size() > kUserPresence.size()) {
      std::string nsp = namespace_of(nullptr);
      json::value id = app::user_id_from_text(std::string_view(path).substr(kUserPresence.size()));
      services_.gateway().presence().connections(
          nsp, app::presence_id(id), [this, connection, nsp, id](std::optional<std::vector<app::Connection>> found) {
            if (!found) {
              respond_on_shard(connection, presence_unavailable());
              return;
            }
            json::array sockets;
            for (const auto& c : *found) {
              sockets.push_back(json::object{{"socketId", c.socket_id}, {"since", app::iso_timestamp(c.since)}});
            }
            bool online = !sockets.empty();
            respond_on_shard(connection, json_response(200, json::object{{"namespace", nsp},
                                                                         {"userId", id},
                                                                         {"online", online},
                                                                         {"connections", std::move(sockets)}}));
          });
      return;
    }
    constexpr std::string_view kUsers = "/api/users/";
    constexpr std::string_view kDisconnect = "/disconnect";
    if (post && path.starts_with(kUsers) && path.ends_with(kDisconnect) &&
        path.size() > kUsers.size() + kDisconnect.size()) {
      json::object body = request.body.empty() ? json::object{} : parse_body(request);
      std::string nsp = namespace_of(&body);
      json::value id =
          app::user_id_from_text(std::string_view(path).substr(kUsers.size(), path.size() - kUsers.size() - kDisconnect.size()));
      services_.disconnect_user(nsp, id);
      connection->respond(json_response(200, json::object{{"ok", true}, {"namespace", nsp}, {"userId", id}}));
      return;
    }
    // The POST endpoints with a JSON body; anything else is unknown, whatever its body.
    constexpr std::array<std::string_view, 7> kPostEndpoints{
        "/api/emit",        "/api/notifications/system", "/api/notifications/users", "/api/notifications/room",
        "/api/data-update", "/api/events",               "/api/batch"};
    if (!post || std::find(kPostEndpoints.begin(), kPostEndpoints.end(), path) == kPostEndpoints.end()) {
      throw ApiError{404, "no such endpoint: " + path};
    }

    json::object body = parse_body(request);
    if (path == "/api/emit") {
      app::EmitTarget target;
      target.nsp = namespace_of(&body);
      target.addressed = body.contains("rooms") || body.contains("users");
      target.rooms = string_list(body, "rooms");
      target.users = user_list(body, "users", false);
      target.except = string_list(body, "except");
      if (const auto* flag = body.if_contains("volatile")) {
        if (!flag->is_bool()) {
          throw ApiError{400, "field 'volatile' must be true or false"};
        }
        target.is_volatile = flag->as_bool();
      }
      std::string event = required_string(body, "event");
      const auto* data = body.if_contains("data");
      services_.emit(target, event, data ? *data : json::value(nullptr));
    } else if (path == "/api/notifications/system") {
      services_.notify_all(namespace_of(&body), notification_from(body));
    } else if (path == "/api/notifications/users") {
      std::vector<json::value> users;
      if (body.contains("userId")) {
        users.push_back(required_user_id(body.if_contains("userId"), "userId"));
      } else {
        users = user_list(body, "userIds", true);
      }
      services_.notify_users(namespace_of(&body), users, notification_from(body));
    } else if (path == "/api/notifications/room") {
      services_.notify_room(namespace_of(&body), required_string(body, "roomId"), notification_from(body));
    } else if (path == "/api/data-update") {
      if (!body.contains("data")) {
        throw ApiError{400, "missing field 'data'"};
      }
      services_.data_update(namespace_of(&body), required_string(body, "type"), body.at("data"),
                            user_list(body, "targetUsers", false));
    } else if (path == "/api/events") {
      std::string event = required_string(body, "event");
      const auto* payload = body.if_contains("payload");
      if (payload == nullptr || !payload->is_object()) {
        throw ApiError{400, "field 'payload' must be an object"};
      }
      if (auto problem = services_.business_event(namespace_of(&body), event, payload->as_object())) {
        throw ApiError{400, *problem};
      }
    } else if (path == "/api/batch") {
      const auto* messages = body.if_contains("messages");
      if (messages == nullptr || !messages->is_array() || messages->as_array().empty()) {
        throw ApiError{400, "field 'messages' must be a non-empty array"};
      }
      std::vector<app::BatchMessage> batch;
      std::size_t index = 0;
      for (const auto& item : messages->as_array()) {
        if (!item.is_object()) {
          throw ApiError{400, "messages[" + std::to_string(index) + "] must be an object"};
        }
        const auto& message = item.as_object();
        try {
          app::BatchMessage entry;
          entry.nsp = namespace_of(&message);
          entry.event = required_string(message, "event");
          if (message.contains("userId")) {
            entry.user_id = required_user_id(message.if_contains("userId"), "userId");
          }
          if (message.contains("roomId")) {
            entry.room_id = required_string(message, "roomId");
          }
          if (const auto* data = message.if_contains("data")) {
            entry.data = *data;
          }
          batch.push_back(std::move(entry));
        } catch (const ApiError& error) {
          throw ApiError{400, "messages[" + std::to_string(index) + "]: " + error.message};
        }
        ++index;
      }
      std::size_t queued = batch.size();
      services_.enqueue(std::move(batch));
      connection->respond(json_response(202, json::object{{"queued", queued}}));
      return;
    } else {
      throw ApiError{404, "no such endpoint: " + path};
    }
    connection->respond(json_response(200, json::object{{"ok", true}}));
  } catch (const ApiError& error) {
    connection->respond(json_response(error.status, json::object{{"error", error.message}}));
  } catch (const std::exception& error) {
    spdlog::error("event=api-error path={} error=\"{}\"", request.path, error.what());
    connection->respond(json_response(500, json::object{{"error", "internal error"}}));
  }
}

}  // namespace iogate::server
