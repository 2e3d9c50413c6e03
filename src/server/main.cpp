// iogate: the real-time gateway server (/admin and /web), and `iogate token` to mint a token.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "adapter/memory/memory_adapter.h"
#include "adapter/redis/cluster.h"
#include "app/auth/jwt.h"
#include "app/gateway/gateway.h"
#include "app/live/system_stats.h"
#include "app/presence/presence.h"
#include "app/presence/redis_presence.h"
#include "app/ratelimit/redis_rate_limiter.h"
#include "net/listener.h"
#include "net/shard_pool.h"
#include "server/config.h"
#include "server/http_api.h"
#include "app/services/services.h"
#include "sio/server.h"

using namespace iogate;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

app::auth::JwtVerifier make_verifier(const server::Config& config) {
  std::vector<app::auth::Algorithm> algorithms;
  for (const auto& name : config.jwt_algorithms) {
    algorithms.push_back(*app::auth::algorithm_from_name(name));
  }
  if (!config.jwt_public_key.empty()) {
    if (algorithms.empty()) {
      algorithms = {app::auth::Algorithm::rs256, app::auth::Algorithm::es256};
    }
    return app::auth::JwtVerifier::with_public_key_file(config.jwt_public_key, algorithms);
  }
  if (algorithms.empty()) {
    algorithms = {app::auth::Algorithm::hs256};
  }
  return app::auth::JwtVerifier::with_secret(config.jwt_secret, algorithms);
}

// "1h", "30m", "45s", "2d" or plain seconds.
std::chrono::seconds parse_ttl(const std::string& text) {
  if (text.empty()) {
    throw std::invalid_argument("ttl: empty");
  }
  char unit = text.back();
  std::string digits = std::isdigit(static_cast<unsigned char>(unit)) ? text : text.substr(0, text.size() - 1);
  long long value = std::stoll(digits);
  switch (unit) {
    case 'd': return std::chrono::seconds(value * 86400);
    case 'h': return std::chrono::seconds(value * 3600);
    case 'm': return std::chrono::seconds(value * 60);
    default: return std::chrono::seconds(value);
  }
}


// Runs `tick` every `period` on one loop until that loop stops.
class Periodic {
 public:
  Periodic(asio::io_context& context, std::chrono::milliseconds period, std::function<void()> tick)
      : timer_(context), period_(period), tick_(std::move(tick)) {
    arm();
  }

 private:
  void arm() {
    timer_.expires_after(period_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) {
        tick_();
        arm();
      }
    });
  }

  asio::steady_timer timer_;
  std::chrono::milliseconds period_;
  std::function<void()> tick_;
};

adapter::redis::ClusterOptions cluster_options(const server::Config& config) {
  adapter::redis::ClusterOptions options;
  options.endpoint = *redis::parse_url(config.redis_url);  // validated with the configuration
  options.key = config.redis_key;
  options.mode = config.redis_mode == "sharded" ? adapter::redis::Mode::sharded : adapter::redis::Mode::classic;
  options.subscription_mode = config.redis_subscription_mode == "static"            ? adapter::redis::SubscriptionMode::static_rooms
                              : config.redis_subscription_mode == "dynamic-private" ? adapter::redis::SubscriptionMode::dynamic_private
                                                                                     : adapter::redis::SubscriptionMode::dynamic;
  options.requests_timeout = std::chrono::milliseconds(config.redis_requests_timeout_ms);
  return options;
}

// The URL without its password, for logs.
std::string redacted(const std::string& url) {
  auto scheme_end = url.find("://");
  auto at = url.rfind('@');
  if (scheme_end == std::string::npos || at == std::string::npos || at < scheme_end) {
    return url;
  }
  return url.substr(0, scheme_end + 3) + "***" + url.substr(at);
}

// Every node pushes to its own clients, so each client gets one push whatever the cluster size.
void push_live_data(app::Services& services, app::SystemStats& stats) {
  auto& gateway = services.gateway();
  auto& io = gateway.io();
  double cpu = stats.cpu_percent();
  double memory = app::SystemStats::memory_percent();
  std::size_t active = 0;
  for (const auto& [name, events] : gateway.config().namespaces) {
    active += io.of(name).local_socket_count();
  }
  auto timestamp = app::iso_timestamp();
  for (const auto& [name, events] : gateway.config().namespaces) {
    auto& nsp = io.of(name);
    nsp.local().emit("system:status", json::array{json::object{{"cpu", std::round(cpu * 10) / 10},
                                                       {"memory", std::round(memory * 10) / 10},
                                                       {"activeConnections", active},
                                                       {"timestamp", timestamp}}});
    services.push_online_users(name, app::Services::Reach::this_node);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"iogate: a Socket.IO server for the /admin and /web gateways"};
  cli.set_version_flag("--version", "iogate 0.1.0");
  std::string config_file;
  cli.add_option("--config", config_file, "TOML configuration file (env IOGATE_CONFIG)")->envname("IOGATE_CONFIG");
  std::map<std::string, std::string> flag_values;
  std::map<std::string, CLI::Option*> flag_options;
  for (const auto& setting : server::settings()) {
    std::string help = setting.help + " [" + setting.key + ", env " + setting.env;
    help += setting.default_value.empty() ? "]" : ", default " + setting.default_value + "]";
    flag_options[setting.key] = cli.add_option(setting.flag, flag_values[setting.key], help);
  }

  auto* token_command = cli.add_subcommand("token", "print a token signed with the configured key");
  std::string token_user;
  std::string token_username;
  int token_status = 1;
  std::string token_ttl = "1h";
  std::string private_key;
  std::string token_algorithm;
  token_command->add_option("--user", token_user, "user id (digits become a number)")->required();
  token_command->add_option("--username", token_username, "user name")->required();
  token_command->add_option("--status", token_status, "status claim (1: active)");
  token_command->add_option("--ttl", token_ttl, "lifetime: 30s, 15m, 1h, 7d");
  token_command->add_option("--jwt-private-key", private_key, "PEM private key (RS256/ES256 instead of the secret)");
  token_command->add_option("--algorithm", token_algorithm, "HS256, HS384, HS512, RS256 or ES256");

  CLI11_PARSE(cli, argc, argv);

  server::Config config;
  try {
    if (!config_file.empty()) {
      server::load_toml(config, config_file);
    }
    for (const auto& setting : server::settings()) {
      if (const char* value = std::getenv(setting.env.c_str())) {
        server::apply(config, setting.key, value);
      }
    }
    for (const auto& setting : server::settings()) {
      if (flag_options[setting.key]->count() > 0) {
        server::apply(config, setting.key, flag_values[setting.key]);
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "iogate: %s\n", error.what());
    return 2;
  }

  if (*token_command) {
    try {
      auto now = std::chrono::system_clock::now();
      auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
      json::object claims{{config.gateway.auth.id_claim, app::user_id_from_text(token_user)},
                          {config.gateway.auth.username_claim, token_username},
                          {"status", token_status},
                          {"iat", seconds},
                          {"exp", seconds + parse_ttl(token_ttl).count()}};
      std::string algorithm_name = token_algorithm.empty() ? (private_key.empty() ? "HS256" : "RS256") : token_algorithm;
      auto algorithm = app::auth::algorithm_from_name(algorithm_name);
      if (!algorithm) {
        throw std::invalid_argument("unsupported algorithm " + algorithm_name);
      }
      if (private_key.empty()) {
        if (config.jwt_secret.empty()) {
          throw std::invalid_argument("no secret: pass --jwt-secret (or IOGATE_JWT_SECRET), or --jwt-private-key");
        }
        std::printf("%s\n", app::auth::sign_with_secret(claims, *algorithm, config.jwt_secret).c_str());
      } else {
        std::printf("%s\n", app::auth::sign_with_private_key_file(claims, *algorithm, private_key).c_str());
      }
      return 0;
    } catch (const std::exception& error) {
      std::fprintf(stderr, "iogate token: %s\n", error.what());
      return 2;
    }
  }

  try {
    server::validate(config);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "iogate: %s\n", error.what());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");

  std::unique_ptr<app::auth::JwtVerifier> verifier;
  try {
    verifier = std::make_unique<app::auth::JwtVerifier>(make_verifier(config));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "iogate: %s\n", error.what());
    return 2;
  }

  net::ShardPool pool(config.shards);
  sio::ServerOptions options;
  options.engine.ping_interval = std::chrono::milliseconds(config.ping_interval_ms);
  options.engine.ping_timeout = std::chrono::milliseconds(config.ping_timeout_ms);
  options.engine.max_http_buffer_size = config.max_http_buffer_size;
  options.engine.path = config.path;
  options.engine.allow_eio3 = config.allow_eio3;
  options.engine.allow_polling =
      std::find(config.transports.begin(), config.transports.end(), "polling") != config.transports.end();
  options.engine.allow_websocket =
      std::find(config.transports.begin(), config.transports.end(), "websocket") != config.transports.end();
  options.engine.cors.enabled = true;
  options.engine.cors.credentials = config.cors_credentials;
  if (!(config.cors_origins.size() == 1 && config.cors_origins.front() == "*")) {
    options.engine.cors.origins = config.cors_origins;
  }
  options.connect_timeout = std::chrono::milliseconds(config.connect_timeout_ms);
  options.adapter = adapter::MemoryAdapter::factory();
  std::unique_ptr<adapter::redis::Cluster> cluster;
  if (!config.redis_url.empty()) {
    cluster = std::make_unique<adapter::redis::Cluster>(pool.context(0), cluster_options(config));
    cluster->on_state([&cluster = *cluster](bool connected) {
      if (connected) {
        spdlog::info("event=redis-up");
      } else {
        spdlog::warn("event=redis-down error=\"{}\" note=\"local delivery goes on; reconnecting\"", cluster.last_error());
      }
    });
    options.adapter = cluster->factory();
  }
  sio::Server io(pool, options);

  // Presence and rate limits: in this process, or, in a cluster, decided in Redis through one
  // link on the home loop, under the cluster's key.
  std::unique_ptr<app::RedisLink> app_redis;
  std::unique_ptr<app::PresenceStore> presence;
  std::unique_ptr<app::RateLimiter> rate_limiter;
  if (!config.redis_url.empty()) {
    app_redis = std::make_unique<app::RedisLink>(pool.context(0), *redis::parse_url(config.redis_url));
    app::RedisPresenceOptions presence_options;
    presence_options.prefix = config.redis_key;
    presence = std::make_unique<app::RedisPresence>(*app_redis, std::move(presence_options));
    rate_limiter = std::make_unique<app::RedisRateLimiter>(*app_redis, config.redis_key);
  } else {
    presence = std::make_unique<app::MemoryPresence>();
    rate_limiter = std::make_unique<app::MemoryRateLimiter>();
  }
  app::Gateway gateway(io, config.gateway, std::move(*verifier), *presence, *rate_limiter);
  if (cluster) {
    // Presence re-syncs announce through the adapter: they wait (bounded) for its links.
    gateway.wait_for_cluster(pool.context(0), [&cluster = *cluster] { return cluster.connected(); });
  }
  gateway.install();
  if (app_redis) {
    app_redis->start();
  }

  app::Services services(gateway, config.batch_size);
  server::HttpApi api(services, config.api_key);

  net::HttpContext http{pool, {}, {}};
  http.settings.max_body_size = config.max_http_buffer_size;
  http.router.add(config.path, &io.engine());
  net::Listener listener(http);
  net::HttpContext api_http{pool, {}, {}};
  api_http.router.add("/api/", &api);
  net::Listener api_listener(api_http);
  try {
    std::uint16_t port = listener.listen(config.host, config.port);
    listener.start();
    spdlog::info("event=listening host={} port={} path={} shards={}", config.host, port, config.path, pool.size());
    std::printf("iogate listening on port %u\n", static_cast<unsigned>(port));
    if (config.api_port != 0) {
      std::uint16_t api_port = api_listener.listen(config.api_host, config.api_port);
      api_listener.start();
      spdlog::info("event=api-listening host={} port={}", config.api_host, api_port);
      std::printf("iogate api listening on port %u\n", static_cast<unsigned>(api_port));
    }
    std::fflush(stdout);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "iogate: cannot listen: %s\n", error.what());
    return 1;
  }

  app::SystemStats stats;
  stats.cpu_percent();
  std::optional<Periodic> live_data;
  if (config.live_interval_s > 0) {
    live_data.emplace(pool.context(0), std::chrono::seconds(config.live_interval_s),
                      [&] { push_live_data(services, stats); });
  }
  Periodic presence_cleanup(pool.context(0), config.gateway.presence_cleanup_interval,
                            [&] { gateway.clean_stale_presence(); });
  Periodic batch_flush(pool.context(0), std::chrono::milliseconds(config.batch_interval_ms),
                       [&] { services.flush(); });

  std::optional<Periodic> redis_watch;
  if (cluster) {
    cluster->start();
    spdlog::info("event=redis-cluster url={} key={} mode={}", redacted(config.redis_url), config.redis_key, config.redis_mode);
    // While Redis is away, say so every few seconds with what it costs.
    redis_watch.emplace(pool.context(0), std::chrono::seconds(5), [&cluster = *cluster] {
      if (!cluster.connected()) {
        spdlog::warn("event=redis-away error=\"{}\" publish_failures={}", cluster.last_error(),
                     cluster.stats().publish_failures.load());
      }
    });
  }

  asio::signal_set signals(pool.context(0), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int signal) {
    spdlog::info("event=shutdown signal={}", signal);
    listener.close();
    api_listener.close();
    services.flush();
    io.close([&pool] { pool.stop_after(std::chrono::milliseconds(200)); });
  });
  pool.run();
  return 0;
}
