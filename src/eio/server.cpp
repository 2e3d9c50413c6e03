#include "eio/server.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "core/random_id.h"
#include "eio/session.h"
#include "net/shard_pool.h"
#include "net/ws_connection.h"

namespace iogate::eio {

namespace {

// Error codes and messages of engine.io's Server.errors.
enum class ErrorCode : int {
  unknown_transport = 0,
  unknown_sid = 1,
  bad_handshake_method = 2,
  bad_request = 3,
  forbidden = 4,
  unsupported_protocol_version = 5,
};

std::string_view default_message(ErrorCode code) {
  switch (code) {
    case ErrorCode::unknown_transport: return "Transport unknown";
    case ErrorCode::unknown_sid: return "Session ID unknown";
    case ErrorCode::bad_handshake_method: return "Bad handshake method";
    case ErrorCode::bad_request: return "Bad request";
    case ErrorCode::forbidden: return "Forbidden";
    case ErrorCode::unsupported_protocol_version: return "Unsupported protocol version";
  }
  return "Bad request";
}

std::string json_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// The session id carries its shard in its first two characters, so any shard can route a
// request to the owner without shared state.
constexpr std::size_t kSidLength = 20;

std::string make_sid(std::size_t shard) {
  std::string sid;
  sid.reserve(kSidLength);
  sid.push_back(core::kBase64UrlAlphabet[(shard / 64) % 64]);
  sid.push_back(core::kBase64UrlAlphabet[shard % 64]);
  sid += core::random_id(kSidLength - 2);
  return sid;
}

int alphabet_index(char c) {
  const char* found = std::strchr(core::kBase64UrlAlphabet, c);
  return found == nullptr || c == '\0' ? -1 : static_cast<int>(found - core::kBase64UrlAlphabet);
}

std::optional<std::size_t> shard_of_sid(std::string_view sid) {
  if (sid.size() != kSidLength) {
    return std::nullopt;
  }
  int high = alphabet_index(sid[0]);
  int low = alphabet_index(sid[1]);
  if (high < 0 || low < 0) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(high * 64 + low);
}

bool has_invalid_header_chars(std::string_view value) {
  return std::any_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

}  // namespace

void add_cors_headers(const CorsOptions& cors, const net::HttpRequest& request, net::NameValueList& headers) {
  if (!cors.enabled) {
    return;
  }
  const std::string* origin = request.header("origin");
  if (cors.origins.empty() && !cors.credentials) {
    headers.emplace_back("Access-Control-Allow-Origin", "*");
  } else if (origin != nullptr &&
             (cors.origins.empty() || std::find(cors.origins.begin(), cors.origins.end(), *origin) != cors.origins.end())) {
    headers.emplace_back("Access-Control-Allow-Origin", *origin);
    headers.emplace_back("Vary", "Origin");
  }
  if (cors.credentials) {
    headers.emplace_back("Access-Control-Allow-Credentials", "true");
  }
}

Server::Server(net::ShardPool& pool, ServerOptions options, ConnectionFactory on_connection)
    : pool_(pool), options_(std::move(options)), on_connection_(std::move(on_connection)) {
  for (std::size_t shard = 0; shard < pool_.size(); ++shard) {
    tables_.push_back(std::make_unique<SessionTable>(*this, shard));
  }
}

Server::~Server() = default;

std::size_t Server::shard_for(const net::HttpRequest& request, std::size_t current_shard) {
  const std::string* sid = request.query_param("sid");
  if (sid == nullptr) {
    return current_shard;
  }
  auto shard = shard_of_sid(*sid);
  return shard && *shard < pool_.size() ? *shard : current_shard;
}

void Server::close_all(std::function<void()> done) {
  auto shards_left = std::make_shared<std::atomic<std::size_t>>(pool_.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (std::size_t shard = 0; shard < pool_.size(); ++shard) {
    pool_.post(shard, [this, shard, shards_left, shared_done] {
      tables_[shard]->close_all("server shutting down");
      if (shards_left->fetch_sub(1) == 1 && *shared_done) {
        (*shared_done)();
      }
    });
  }
}

void Server::on_request(const std::shared_ptr<net::HttpConnection>& connection, net::HttpRequest& request) {
  auto refuse = [&](ErrorCode code, std::string_view message = {}) {
    if (message.empty()) {
      message = default_message(code);
    }
    if (request.websocket_upgrade) {
      connection->reject_upgrade(message);
      return;
    }
    net::HttpResponse response;
    response.status = code == ErrorCode::forbidden ? 403 : 400;
    response.headers.emplace_back("Content-Type", "application/json");
    add_cors_headers(options_.cors, request, response.headers);
    response.body = R"({"code":)" + std::to_string(static_cast<int>(code)) + R"(,"message":")" +
                    json_escape(message) + R"("})";
    connection->respond(std::move(response));
  };

  if (request.method == net::Method::options && options_.cors.enabled && !request.websocket_upgrade) {
    net::HttpResponse response{.status = 204, .headers = {}, .body = {}, .close = false};
    add_cors_headers(options_.cors, request, response.headers);
    response.headers.emplace_back("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE");
    if (const std::string* wanted = request.header("access-control-request-headers")) {
      response.headers.emplace_back("Access-Control-Allow-Headers", *wanted);
    }
    response.headers.emplace_back("Vary", "Access-Control-Request-Headers");
    connection->respond(std::move(response));
    return;
  }

  const std::string* transport = request.query_param("transport");
  bool polling = transport != nullptr && *transport == "polling" && options_.allow_polling;
  bool websocket = transport != nullptr && *transport == "websocket" && options_.allow_websocket;
  if (!polling && !websocket) {
    refuse(ErrorCode::unknown_transport);
    return;
  }
  if (const std::string* origin = request.header("origin"); origin && has_invalid_header_chars(*origin)) {
    refuse(ErrorCode::bad_request);
    return;
  }
  const std::string* eio = request.query_param("EIO");
  const std::string* sid = request.query_param("sid");
  if (sid != nullptr) {
    auto session = tables_[connection->shard()]->find(*sid);
    if (!session) {
      refuse(ErrorCode::unknown_sid);
      return;
    }
    std::string_view session_eio = session->revision() == Revision::v4 ? "4" : "3";
    if (eio == nullptr || *eio != session_eio) {
      refuse(ErrorCode::bad_request);
      return;
    }
    if (request.websocket_upgrade) {
      if (!websocket || !options_.allow_upgrades) {
        refuse(ErrorCode::bad_request);
        return;
      }
      auto ws = connection->accept_websocket(request, options_.max_http_buffer_size);
      if (!ws) {
        refuse(ErrorCode::bad_request);
        return;
      }
      session->on_upgrade_websocket(ws);
      return;
    }
    bool session_polling = session->transport() == Session::Transport::polling;
    if (!polling || !session_polling) {
      refuse(ErrorCode::bad_request);
      return;
    }
    if (request.method == net::Method::get) {
      session->on_poll(connection, request);
    } else if (request.method == net::Method::post) {
      session->on_data(connection, request);
    } else {
      refuse(ErrorCode::bad_request);
    }
    return;
  }

  if (request.method != net::Method::get) {
    refuse(ErrorCode::bad_handshake_method);
    return;
  }
  if (websocket && !request.websocket_upgrade) {
    refuse(ErrorCode::bad_request);
    return;
  }
  if (options_.allow_request) {
    if (auto refusal = options_.allow_request(request)) {
      refuse(ErrorCode::forbidden, *refusal);
      return;
    }
  }
  Revision revision;
  if (eio != nullptr && *eio == "4") {
    revision = Revision::v4;
  } else if (eio != nullptr && *eio == "3" && options_.allow_eio3) {
    revision = Revision::v3;
  } else {
    refuse(ErrorCode::unsupported_protocol_version);
    return;
  }
  handshake(connection, request, revision);
}

void Server::handshake(const std::shared_ptr<net::HttpConnection>& connection, net::HttpRequest& request,
                       Revision revision) {
  std::size_t shard = connection->shard();
  Handshake info;
  info.url = request.target;
  info.query = request.query;
  info.headers = request.headers;
  info.address = request.remote_address;
  info.xdomain = request.header("origin") != nullptr;
  info.time = std::chrono::system_clock::now();
  bool supports_binary = request.query_param("b64") == nullptr;

  std::shared_ptr<net::WsConnection> ws;
  Session::Transport transport = Session::Transport::polling;
  if (request.websocket_upgrade) {
    ws = connection->accept_websocket(request, options_.max_http_buffer_size);
    if (!ws) {
      connection->reject_upgrade(default_message(ErrorCode::bad_request));
      return;
    }
    transport = Session::Transport::websocket;
  }
  auto session = std::make_shared<Session>(*tables_[shard], make_sid(shard), revision, transport, std::move(info),
                                           supports_binary);
  tables_[shard]->add(session);
  session->open(connection, request, ws);
}

}  // namespace iogate::eio
