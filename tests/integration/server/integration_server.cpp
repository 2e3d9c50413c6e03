// The server the integration tests drive with real clients: one handler per feature of the
// C++ API (rooms, broadcasts with exceptions and acks, server→client acks, binary, namespaces,
// middleware refusals, server-side disconnects).
#include <csignal>
#include <cstdio>
#include <regex>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>

#include "adapter/memory/memory_adapter.h"
#include "net/listener.h"
#include "net/shard_pool.h"
#include "sio/server.h"

using namespace iogate;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string string_field(const json::value& value, std::string_view key) {
  if (const auto* object = value.if_object()) {
    if (const auto* field = object->if_contains(key); field && field->is_string()) {
      return std::string(field->as_string());
    }
  }
  return {};
}

std::int64_t int_field(const json::value& value, std::string_view key, std::int64_t fallback) {
  if (const auto* object = value.if_object()) {
    if (const auto* field = object->if_contains(key); field && field->is_number()) {
      return field->to_number<std::int64_t>();
    }
  }
  return fallback;
}

void emit_auth(sio::Socket& socket) { socket.emit("auth", sio::Payload{json::array{socket.auth()}}); }

void register_root_handlers(sio::Socket& socket) {
  emit_auth(socket);
  socket.on("message", [](sio::Socket& s, sio::Event& e) { s.emit("message-back", std::move(e.payload)); });
  socket.on("message-with-ack", [](sio::Socket&, sio::Event& e) {
    if (e.wants_ack()) {
      e.ack(std::move(e.payload));
    }
  });
  socket.on("join", [](sio::Socket& s, sio::Event& e) {
    if (!e.payload.args.empty() && e.payload.args[0].is_string()) {
      s.join(std::string(e.payload.args[0].as_string()));
    }
    if (e.wants_ack()) {
      e.ack(json::array{"joined"});
    }
  });
  socket.on("leave", [](sio::Socket& s, sio::Event& e) {
    if (!e.payload.args.empty() && e.payload.args[0].is_string()) {
      s.leave(std::string(e.payload.args[0].as_string()));
    }
    if (e.wants_ack()) {
      e.ack(json::array{"left"});
    }
  });
  socket.on("rooms", [](sio::Socket& s, sio::Event& e) {
    json::array rooms;
    for (const auto& room : s.rooms()) {
      rooms.emplace_back(room);
    }
    if (e.wants_ack()) {
      e.ack(json::array{std::move(rooms)});
    }
  });
  socket.on("broadcast", [](sio::Socket& s, sio::Event& e) {
    json::value request = e.payload.args.empty() ? json::value{} : e.payload.args[0];
    auto target = s.nsp().selection();
    if (auto room = string_field(request, "room"); !room.empty()) {
      target = target.to(room);
    }
    if (auto except = string_field(request, "except"); !except.empty()) {
      target = target.except(except);
    }
    sio::Payload payload;
    if (const auto* object = request.if_object()) {
      if (const auto* args = object->if_contains("args"); args && args->is_array()) {
        payload.args = args->as_array();
        payload.attachments = e.payload.attachments;
      }
    }
    target.emit(string_field(request, "event"), std::move(payload));
    if (e.wants_ack()) {
      e.ack(json::array{"sent"});
    }
  });
  socket.on("server-ack", [](sio::Socket& s, sio::Event& e) {
    auto timeout = std::chrono::milliseconds(int_field(e.payload.args.empty() ? json::value{} : e.payload.args[0],
                                                       "timeout", 1000));
    s.emit_with_ack("question", json::array{42}, timeout,
                    [weak = s.weak_from_this()](std::optional<sio::Payload> reply) {
                      auto asker = weak.lock();
                      if (!asker) {
                        return;
                      }
                      sio::Payload result;
                      if (reply) {
                        result.args.push_back(json::object{{"ok", true}, {"args", std::move(reply->args)}});
                        result.attachments = std::move(reply->attachments);
                      } else {
                        result.args.push_back(json::object{{"ok", false}, {"error", "operation has timed out"}});
                      }
                      asker->emit("server-ack-result", std::move(result));
                    });
  });
  socket.on("binary-from-server", [](sio::Socket& s, sio::Event&) {
    sio::Payload payload;
    payload.args.push_back(payload.attach(std::string("\x01\x02\x03", 3)));
    json::object nested{{"nested", payload.attach(std::string("\x04\x05", 2))}, {"n", 1}};
    payload.args.push_back(std::move(nested));
    s.emit("binary", std::move(payload));
  });
  socket.on("broadcast-ack", [](sio::Socket& s, sio::Event& e) {
    json::value request = e.payload.args.empty() ? json::value{} : e.payload.args[0];
    auto timeout = std::chrono::milliseconds(int_field(request, "timeout", 1000));
    auto ack = std::move(e.ack);
    s.nsp().to(string_field(request, "room")).timeout(timeout).emit_with_ack(
        "question", json::array{42}, [ack](std::optional<std::string> error, std::vector<sio::Payload> replies) {
          json::array responses;
          for (auto& reply : replies) {
            responses.push_back(reply.args.empty() ? json::value{} : std::move(reply.args[0]));
          }
          if (ack) {
            ack(json::array{json::object{{"error", error ? json::value(*error) : json::value{}},
                                         {"responses", std::move(responses)}}});
          }
        });
  });
  socket.on("fetch", [](sio::Socket& s, sio::Event& e) {
    auto ack = std::move(e.ack);
    std::string room = e.payload.args.empty() || !e.payload.args[0].is_string()
                           ? std::string()
                           : std::string(e.payload.args[0].as_string());
    auto selection = room.empty() ? s.nsp().selection() : s.nsp().to(room);
    selection.fetch_sockets([ack](std::vector<sio::SocketInfo> sockets) {
      json::array ids;
      for (const auto& info : sockets) {
        ids.emplace_back(info.id);
      }
      if (ack) {
        ack(json::array{std::move(ids)});
      }
    });
  });
  socket.on("disconnect-me", [](sio::Socket& s, sio::Event&) { s.disconnect(); });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"iogate integration test server"};
  std::uint16_t port = 0;
  std::size_t shards = 2;
  cli.add_option("--port", port, "TCP port (0: any free port)");
  cli.add_option("--shards", shards, "event loops");
  CLI11_PARSE(cli, argc, argv);

  net::ShardPool pool(shards);
  net::HttpContext http{pool, {}, {}};
  sio::ServerOptions options;
  options.engine.ping_interval = 2000ms;
  options.engine.ping_timeout = 3000ms;
  options.engine.allow_eio3 = true;
  options.engine.cors.enabled = true;
  options.adapter = adapter::MemoryAdapter::factory();
  sio::Server io(pool, options);

  io.of("/").on_connection(register_root_handlers);
  io.of("/custom").on_connection(emit_auth);
  io.of("/refuse").use([](sio::Socket&, auto next) {
    next(sio::ConnectError{"not allowed", json::object{{"code", 42}}});
  });
  auto& private_nsp = io.of("/private");
  private_nsp.use([](sio::Socket& socket, auto next) {
    if (string_field(socket.auth(), "token") == "secret") {
      next(std::nullopt);
    } else {
      next(sio::ConnectError{"bad token", nullptr});
    }
  });
  private_nsp.on_connection(emit_auth);
  io.of(std::regex("^/dyn-[0-9]+$")).on_connection([](sio::Socket& socket) {
    socket.emit("nsp", json::array{socket.nsp().name()});
  });

  http.router.add(io.engine().options().path, &io.engine());
  net::Listener listener(http);
  try {
    port = listener.listen("127.0.0.1", port);
    listener.listen("::1", port);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cannot listen: %s\n", error.what());
    return 1;
  }
  listener.start();
  std::printf("iogate listening on port %u\n", static_cast<unsigned>(port));
  std::fflush(stdout);

  boost::asio::signal_set signals(pool.context(0), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    listener.close();
    io.close([&pool] { pool.stop_after(std::chrono::milliseconds(200)); });
  });
  pool.run();
  return 0;
}
