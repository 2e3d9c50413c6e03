#pragma once
// iogate's configuration: defaults (the guide's), then a TOML file (--config), then IOGATE_*
// environment variables, then flags — each later source overrides the earlier ones.
#include <cstdint>
#include <string>
#include <vector>

#include "app/gateway/gateway_config.h"

namespace iogate::server {

struct Config {
  std::string host = "0.0.0.0";
  std::uint16_t port = 3000;
  std::string path = "/socket.io/";
  std::size_t shards = 0;
  std::uint32_t ping_interval_ms = 25'000;
  std::uint32_t ping_timeout_ms = 60'000;
  std::size_t max_http_buffer_size = 1'000'000;
  std::vector<std::string> transports{"websocket", "polling"};
  bool allow_eio3 = true;
  std::uint32_t connect_timeout_ms = 45'000;
  std::vector<std::string> cors_origins{"*"};
  bool cors_credentials = true;

  std::string jwt_secret;
  std::string jwt_public_key;            // PEM file
  std::vector<std::string> jwt_algorithms;  // empty: HS256 with a secret; RS256/ES256 by key type
  app::GatewayConfig gateway;

  std::string api_host = "127.0.0.1";
  std::uint16_t api_port = 3001;
  std::string api_key;
  std::size_t batch_size = 100;
  std::uint32_t batch_interval_ms = 1000;

  std::uint32_t live_interval_s = 30;
  std::string redis_url;
  std::string redis_key = "socket.io";
  std::string redis_mode = "classic";  // classic | sharded
  std::string redis_subscription_mode = "dynamic";  // sharded: dynamic | dynamic-private | static
  std::uint32_t redis_requests_timeout_ms = 5000;
  std::string log_level = "info";
};

// One configuration setting: its TOML key, flag, environment variable and help.
struct Setting {
  std::string key;   // "server.port"
  std::string flag;  // "--port"
  std::string env;   // "IOGATE_PORT"
  std::string help;
  std::string default_value;
};

// Every setting, in --help order.
const std::vector<Setting>& settings();

// Applies `value` (text from a flag, the environment or TOML) to the setting `key`.
// Throws std::invalid_argument with a message naming the setting when the value is bad.
void apply(Config& config, const std::string& key, const std::string& value);

// Reads a TOML file into `config` (tables [limits.events."name"] and [gateway.events] included).
void load_toml(Config& config, const std::string& path);

// Checks the combination (e.g. a key for the JWT, API key when the API is not on loopback).
void validate(const Config& config);

}  // namespace iogate::server
