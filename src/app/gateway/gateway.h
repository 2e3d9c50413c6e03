#pragma once
// The guide's /admin and /web gateways on the Socket.IO API: JWT authentication at connect,
// per-user presence with online/offline announced once per user, private and room messages,
// input validation with `error` events, connection and rate limits, token expiry.
//
// Refusal codes (connect_error data.code), stable:
//   AUTH_TOKEN_MISSING, AUTH_TOKEN_MALFORMED, AUTH_ALGORITHM_NOT_ALLOWED, AUTH_SIGNATURE_INVALID,
//   AUTH_TOKEN_EXPIRED, AUTH_TOKEN_NOT_YET_VALID, AUTH_USER_ID_MISSING, AUTH_USER_INACTIVE,
//   CONNECTION_LIMIT.
#include <memory>
#include <string>

#include <boost/json/value.hpp>

#include "app/auth/jwt.h"
#include "app/gateway/gateway_config.h"
#include "app/presence/presence.h"
#include "app/ratelimit/rate_limiter.h"
#include "sio/server.h"

namespace iogate::app {

// ISO-8601 UTC with milliseconds, as a JavaScript Date serialises ("2026-11-27T08:00:00.000Z").
std::string iso_timestamp(std::chrono::system_clock::time_point time = std::chrono::system_clock::now());

// A user id as text ("1" for 1 and "1" alike), for the user's room `user:<id>`; empty when the
// id is neither a string nor a number.
std::string user_key(const boost::json::value& id);
inline std::string user_room(const std::string& key) { return "user:" + key; }
// A user id typed as text (a path segment, a flag): digits become a number, as ids from a
// JavaScript back end are; anything else stays a string.
boost::json::value user_id_from_text(std::string_view text);

// Presence files users under their id's JSON text, so that ids keep their JSON type.
std::string presence_id(const boost::json::value& id);
boost::json::value id_from_presence(const std::string& presence_id);

class Gateway {
 public:
  Gateway(sio::Server& io, GatewayConfig config, auth::JwtVerifier verifier, PresenceStore& presence);
  ~Gateway();

  // Registers middlewares and handlers on every configured namespace; call before serving.
  void install();

  const GatewayConfig& config() const noexcept { return config_; }
  PresenceStore& presence() noexcept { return presence_; }
  sio::Server& io() noexcept { return io_; }

  // Removes presence records of sockets that are gone without a recorded disconnect, and rate
  // limit windows that have ended.
  void clean_stale_presence();

 private:
  struct State;
  struct SocketUser;

  void handle_event(sio::Socket& socket, sio::Event& event, const SocketUser& user);
  void announce_offline(sio::Socket& socket, const SocketUser& user);

  sio::Server& io_;
  GatewayConfig config_;
  auth::JwtVerifier verifier_;
  PresenceStore& presence_;
  RateLimiter rate_limiter_;
  std::shared_ptr<State> state_;
};

}  // namespace iogate::app
