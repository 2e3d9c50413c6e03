#include "server/config.h"

#include "redis/connection.h"

#include <charconv>
#include <functional>
#include <map>
#include <stdexcept>

#include <toml++/toml.h>

#include "redis/connection.h"

namespace iogate::server {

namespace {

using Setter = std::function<void(Config&, const std::string&)>;

template <class T>
T parse_number(const std::string& key, const std::string& text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    throw std::invalid_argument(key + ": '" + text + "' is not a valid number");
  }
  return value;
}

bool parse_bool(const std::string& key, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") {
    return true;
  }
  if (text == "false" || text == "0" || text == "no" || text == "off") {
    return false;
  }
  throw std::invalid_argument(key + ": '" + text + "' is not true or false");
}

std::vector<std::string> parse_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) {
      items.push_back(item);
    }
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return items;
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) {
    text += (text.empty() ? "" : ",") + item;
  }
  return text;
}

struct Entry {
  Setting setting;
  Setter set;
};

std::string env_name(const std::string& flag) {
  std::string name = "IOGATE_";
  for (char c : flag.substr(2)) {
    name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return name;
}

Entry entry(std::string key, std::string flag, std::string help, std::string default_value, Setter set) {
  std::string env = env_name(flag);
  return Entry{Setting{std::move(key), std::move(flag), std::move(env), std::move(help), std::move(default_value)},
               std::move(set)};
}

const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = [] {
    Config d;
    std::vector<Entry> e;
    e.push_back(entry("server.host", "--host", "address the Socket.IO listener binds (an IP address)", d.host,
                      [](Config& c, const std::string& v) { c.host = v == "localhost" ? "127.0.0.1" : v; }));
    e.push_back(entry("server.port", "--port", "Socket.IO port", std::to_string(d.port),
                      [](Config& c, const std::string& v) { c.port = parse_number<std::uint16_t>("port", v); }));
    e.push_back(entry("server.path", "--path", "Socket.IO path", d.path, [](Config& c, const std::string& v) {
      c.path = v.empty() || v.back() != '/' ? v + "/" : v;
    }));
    e.push_back(entry("server.shards", "--shards", "event loops (0: one per core)", "0",
                      [](Config& c, const std::string& v) { c.shards = parse_number<std::size_t>("shards", v); }));
    e.push_back(entry("server.ping_interval_ms", "--ping-interval", "Engine.IO pingInterval (ms)",
                      std::to_string(d.ping_interval_ms), [](Config& c, const std::string& v) {
                        c.ping_interval_ms = parse_number<std::uint32_t>("ping-interval", v);
                      }));
    e.push_back(entry("server.ping_timeout_ms", "--ping-timeout", "Engine.IO pingTimeout (ms)",
                      std::to_string(d.ping_timeout_ms), [](Config& c, const std::string& v) {
                        c.ping_timeout_ms = parse_number<std::uint32_t>("ping-timeout", v);
                      }));
    e.push_back(entry("server.max_http_buffer_size", "--max-http-buffer-size", "largest message or POST (bytes)",
                      std::to_string(d.max_http_buffer_size), [](Config& c, const std::string& v) {
                        c.max_http_buffer_size = parse_number<std::size_t>("max-http-buffer-size", v);
                      }));
    e.push_back(entry("server.transports", "--transports", "enabled transports (websocket,polling)",
                      join(d.transports), [](Config& c, const std::string& v) {
                        c.transports = parse_list(v);
                        for (const auto& t : c.transports) {
                          if (t != "websocket" && t != "polling") {
                            throw std::invalid_argument("transports: unknown transport '" + t + "'");
                          }
                        }
                      }));
    e.push_back(entry("server.allow_eio3", "--allow-eio3", "accept Engine.IO 3 (Socket.IO 2) clients", "true",
                      [](Config& c, const std::string& v) { c.allow_eio3 = parse_bool("allow-eio3", v); }));
    e.push_back(entry("server.connect_timeout_ms", "--connect-timeout", "time to join a namespace (ms)",
                      std::to_string(d.connect_timeout_ms), [](Config& c, const std::string& v) {
                        c.connect_timeout_ms = parse_number<std::uint32_t>("connect-timeout", v);
                      }));
    e.push_back(entry("cors.origins", "--cors-origins", "allowed origins, comma-separated ('*': any)",
                      join(d.cors_origins), [](Config& c, const std::string& v) { c.cors_origins = parse_list(v); }));
    e.push_back(entry("cors.credentials", "--cors-credentials", "allow credentials (the origin is reflected)", "true",
                      [](Config& c, const std::string& v) { c.cors_credentials = parse_bool("cors-credentials", v); }));
    e.push_back(entry("auth.jwt_secret", "--jwt-secret", "HMAC secret for HS256/384/512 tokens", "",
                      [](Config& c, const std::string& v) { c.jwt_secret = v; }));
    e.push_back(entry("auth.jwt_public_key", "--jwt-public-key", "PEM public key file for RS256/ES256 tokens", "",
                      [](Config& c, const std::string& v) { c.jwt_public_key = v; }));
    e.push_back(entry("auth.algorithms", "--jwt-algorithms",
                      "accepted algorithms (default: HS256 with a secret, RS256 and ES256 with a key)", "",
                      [](Config& c, const std::string& v) {
                        c.jwt_algorithms = parse_list(v);
                        for (const auto& a : c.jwt_algorithms) {
                          if (!app::auth::algorithm_from_name(a)) {
                            throw std::invalid_argument("jwt-algorithms: unsupported algorithm '" + a + "'");
                          }
                        }
                      }));
    e.push_back(entry("auth.id_claim", "--jwt-id-claim", "claim holding the user id", d.gateway.auth.id_claim,
                      [](Config& c, const std::string& v) { c.gateway.auth.id_claim = v; }));
    e.push_back(entry("auth.username_claim", "--jwt-username-claim", "claim holding the user name",
                      d.gateway.auth.username_claim,
                      [](Config& c, const std::string& v) { c.gateway.auth.username_claim = v; }));
    e.push_back(entry("auth.require_status", "--require-status", "refuse tokens whose status is not 1", "true",
                      [](Config& c, const std::string& v) {
                        c.gateway.auth.require_status = parse_bool("require-status", v);
                      }));
    e.push_back(entry("auth.leeway_s", "--jwt-leeway", "clock leeway for exp and nbf (s)", "5",
                      [](Config& c, const std::string& v) {
                        c.gateway.auth.leeway = std::chrono::seconds(parse_number<std::uint32_t>("jwt-leeway", v));
                      }));
    e.push_back(entry("gateway.namespaces", "--namespaces", "gateway namespaces, comma-separated", "/admin,/web",
                      [](Config& c, const std::string& v) {
                        std::map<std::string, std::vector<std::string>> namespaces;
                        for (auto name : parse_list(v)) {
                          if (name.front() != '/') {
                            name.insert(name.begin(), '/');
                          }
                          auto existing = c.gateway.namespaces.find(name);
                          namespaces[name] =
                              existing == c.gateway.namespaces.end() ? app::kGatewayEvents : existing->second;
                        }
                        c.gateway.namespaces = std::move(namespaces);
                      }));
    e.push_back(entry("gateway.offline_grace_ms", "--offline-grace",
                      "wait before announcing user:offline (ms; a reconnect cancels it)", "0",
                      [](Config& c, const std::string& v) {
                        c.gateway.offline_grace = std::chrono::milliseconds(parse_number<std::uint32_t>("offline-grace", v));
                      }));
    e.push_back(entry("gateway.presence_cleanup_s", "--presence-cleanup", "stale presence cleanup period (s)", "300",
                      [](Config& c, const std::string& v) {
                        c.gateway.presence_cleanup_interval =
                            std::chrono::seconds(parse_number<std::uint32_t>("presence-cleanup", v));
                      }));
    e.push_back(entry("gateway.max_message_length", "--max-message-length", "longest chat message (characters)",
                      "10000", [](Config& c, const std::string& v) {
                        c.gateway.max_message_length = parse_number<std::size_t>("max-message-length", v);
                      }));
    e.push_back(entry("limits.max_connections_per_user", "--max-connections-per-user",
                      "connections per user per namespace (0: unlimited)", "5", [](Config& c, const std::string& v) {
                        c.gateway.max_connections_per_user = parse_number<std::size_t>("max-connections-per-user", v);
                      }));
    e.push_back(entry("limits.connection_limit_policy", "--connection-limit-policy",
                      "at the limit: refuse (the new one) or evict-oldest", "refuse",
                      [](Config& c, const std::string& v) {
                        if (v != "refuse" && v != "evict-oldest") {
                          throw std::invalid_argument("connection-limit-policy: 'refuse' or 'evict-oldest'");
                        }
                        c.gateway.evict_oldest_connection = v == "evict-oldest";
                      }));
    e.push_back(entry("limits.rate_limit", "--rate-limit", "events per user, namespace and event per window", "10",
                      [](Config& c, const std::string& v) {
                        c.gateway.rate_limit.limit = parse_number<std::uint32_t>("rate-limit", v);
                      }));
    e.push_back(entry("limits.rate_window_s", "--rate-window", "rate limit window (s)", "60",
                      [](Config& c, const std::string& v) {
                        c.gateway.rate_limit.window_seconds = parse_number<std::uint32_t>("rate-window", v);
                        if (c.gateway.rate_limit.window_seconds == 0) {
                          throw std::invalid_argument("rate-window: must be at least 1 second");
                        }
                      }));
    e.push_back(entry("api.host", "--api-host", "address of the back-end HTTP API (an IP address)", d.api_host,
                      [](Config& c, const std::string& v) { c.api_host = v == "localhost" ? "127.0.0.1" : v; }));
    e.push_back(entry("api.port", "--api-port", "back-end HTTP API port (0: off)", std::to_string(d.api_port),
                      [](Config& c, const std::string& v) { c.api_port = parse_number<std::uint16_t>("api-port", v); }));
    e.push_back(entry("api.key", "--api-key", "API key (X-API-Key or Bearer); required off loopback", "",
                      [](Config& c, const std::string& v) { c.api_key = v; }));
    e.push_back(entry("api.batch_size", "--batch-size", "batch queue: flush at this many messages", "100",
                      [](Config& c, const std::string& v) { c.batch_size = parse_number<std::size_t>("batch-size", v); }));
    e.push_back(entry("api.batch_interval_ms", "--batch-interval", "batch queue: flush after this long (ms)", "1000",
                      [](Config& c, const std::string& v) {
                        c.batch_interval_ms = parse_number<std::uint32_t>("batch-interval", v);
                        if (c.batch_interval_ms == 0) {
                          throw std::invalid_argument("batch-interval: must be at least 1 ms");
                        }
                      }));
    e.push_back(entry("live.interval_s", "--live-interval", "system:status and stats:online-users period (s; 0: off)",
                      "30", [](Config& c, const std::string& v) {
                        c.live_interval_s = parse_number<std::uint32_t>("live-interval", v);
                      }));
    e.push_back(entry("redis.url", "--redis-url",
                      "Redis for the cluster (redis://[user:password@]host:port[/db] or unix:///path); empty: in memory",
                      "", [](Config& c, const std::string& v) {
                        std::string error;
                        if (!v.empty() && !redis::parse_url(v, &error)) {
                          throw std::invalid_argument("redis-url: " + error);
                        }
                        c.redis_url = v;
                      }));
    e.push_back(entry("redis.key", "--redis-key", "channel prefix shared by the cluster (Node: key / channelPrefix)",
                      d.redis_key, [](Config& c, const std::string& v) {
                        if (v.empty()) {
                          throw std::invalid_argument("redis-key: must not be empty");
                        }
                        c.redis_key = v;
                      }));
    e.push_back(entry("redis.mode", "--redis-mode", "classic (PUBLISH, Node's createAdapter) or sharded (SPUBLISH, Redis 7)",
                      d.redis_mode, [](Config& c, const std::string& v) {
                        if (v != "classic" && v != "sharded") {
                          throw std::invalid_argument("redis-mode: classic or sharded, not '" + v + "'");
                        }
                        c.redis_mode = v;
                      }));
    e.push_back(entry("redis.subscription_mode", "--redis-subscription-mode",
                      "sharded mode's room channels: dynamic, dynamic-private or static", d.redis_subscription_mode,
                      [](Config& c, const std::string& v) {
                        if (v != "dynamic" && v != "dynamic-private" && v != "static") {
                          throw std::invalid_argument("redis-subscription-mode: dynamic, dynamic-private or static");
                        }
                        c.redis_subscription_mode = v;
                      }));
    e.push_back(entry("redis.requests_timeout_ms", "--redis-requests-timeout",
                      "how long cluster requests (fetchSockets, serverSideEmit acks) wait for other nodes (ms)",
                      std::to_string(d.redis_requests_timeout_ms), [](Config& c, const std::string& v) {
                        c.redis_requests_timeout_ms = parse_number<std::uint32_t>("redis-requests-timeout", v);
                        if (c.redis_requests_timeout_ms == 0) {
                          throw std::invalid_argument("redis-requests-timeout: must be at least 1 ms");
                        }
                      }));
    e.push_back(entry("log.level", "--log-level", "trace, debug, info, warn, error or off", d.log_level,
                      [](Config& c, const std::string& v) {
                        static const std::vector<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
                        if (std::find(levels.begin(), levels.end(), v) == levels.end()) {
                          throw std::invalid_argument("log-level: unknown level '" + v + "'");
                        }
                        c.log_level = v;
                      }));
    return e;
  }();
  return all;
}

std::string node_text(const toml::node& node, const std::string& key) {
  if (const auto* text = node.as_string()) {
    return text->get();
  }
  if (const auto* integer = node.as_integer()) {
    return std::to_string(integer->get());
  }
  if (const auto* boolean = node.as_boolean()) {
    return boolean->get() ? "true" : "false";
  }
  if (const auto* array = node.as_array()) {
    std::vector<std::string> items;
    for (const auto& item : *array) {
      items.push_back(node_text(item, key));
    }
    return join(items);
  }
  throw std::invalid_argument(key + ": unsupported value type");
}

app::RateLimit rate_limit_from(const toml::node& node, const std::string& key, app::RateLimit base) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    throw std::invalid_argument(key + ": expected a table {limit = N, window = S}");
  }
  if (auto limit = (*table)["limit"].value<std::int64_t>()) {
    base.limit = static_cast<std::uint32_t>(*limit);
  }
  if (auto window = (*table)["window"].value<std::int64_t>()) {
    base.window_seconds = static_cast<std::uint32_t>(*window);
  }
  return base;
}

}  // namespace

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = [] {
    std::vector<Setting> list;
    for (const auto& e : entries()) {
      list.push_back(e.setting);
    }
    return list;
  }();
  return all;
}

void apply(Config& config, const std::string& key, const std::string& value) {
  for (const auto& e : entries()) {
    if (e.setting.key == key) {
      e.set(config, value);
      return;
    }
  }
  throw std::invalid_argument("unknown setting '" + key + "'");
}

void load_toml(Config& config, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    throw std::invalid_argument("config " + path + ": " + std::string(error.description()));
  }
  for (const auto& e : entries()) {
    if (const toml::node* node = root.at_path(e.setting.key).node()) {
      e.set(config, node_text(*node, e.setting.key));
    }
  }
  if (const auto* events = root.at_path("limits.events").as_table()) {
    for (const auto& [name, node] : *events) {
      std::string key = "limits.events." + std::string(name.str());
      config.gateway.event_rate_limits[std::string(name.str())] = rate_limit_from(node, key, config.gateway.rate_limit);
    }
  }
  if (const auto* events = root.at_path("gateway.events").as_table()) {
    for (const auto& [name, node] : *events) {
      std::string nsp(name.str());
      if (!config.gateway.namespaces.contains(nsp)) {
        throw std::invalid_argument("gateway.events: '" + nsp + "' is not in gateway.namespaces");
      }
      auto list = parse_list(node_text(node, "gateway.events." + nsp));
      for (const auto& event : list) {
        if (std::find(app::kGatewayEvents.begin(), app::kGatewayEvents.end(), event) == app::kGatewayEvents.end()) {
          throw std::invalid_argument("gateway.events: unknown event '" + event + "'");
        }
      }
      config.gateway.namespaces[nsp] = list;
    }
  }
}

void validate(const Config& config) {
  if (config.jwt_secret.empty() && config.jwt_public_key.empty()) {
    throw std::invalid_argument("no JWT key: set --jwt-secret (HS256) or --jwt-public-key (RS256/ES256)");
  }
  bool api_on_loopback = config.api_host == "127.0.0.1" || config.api_host == "::1" || config.api_host == "localhost";
  if (config.api_port != 0 && !api_on_loopback && config.api_key.empty()) {
    throw std::invalid_argument("api-key: required when the API listens on " + config.api_host);
  }
  if (config.transports.empty()) {
    throw std::invalid_argument("transports: at least one of websocket, polling");
  }
  if (config.gateway.namespaces.empty()) {
    throw std::invalid_argument("namespaces: at least one");
  }
}

}  // namespace iogate::server
