// The server the integration tests drive with real clients: one handler per feature of the
// C++ API (rooms, broadcasts with exceptions and acks, server→client acks, binary, namespaces,
// middleware refusals, server-side disconnects), and with --redis-url a cluster node whose
// events match tests/integration/cluster/node_server.js, its Node twin.
#include <algorithm>
#include <cstdio>
#include <regex>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "adapter/memory/memory_adapter.h"
#include "adapter/redis/cluster.h"
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

// This node's name in server-side answers (several nodes run in one cluster test).
std::string node_name = "iogate";

const json::value& first_arg(const sio::Event& e) {
  static const json::value kNone;
  return e.payload.args.empty() ? kNone : e.payload.args[0];
}

// The sockets a request {room?, except?} selects.
sio::BroadcastOperator selection_of(sio::Socket& s, const json::value& request) {
  auto target = s.nsp().selection();
  if (auto room = string_field(request, "room"); !room.empty()) {
    target = target.to(room);
  }
  if (auto except = string_field(request, "except"); !except.empty()) {
    target = target.except(except);
  }
  return target;
}

std::vector<std::string> strings_field(const json::value& value, std::string_view key) {
  std::vector<std::string> out;
  if (const auto* object = value.if_object()) {
    if (const auto* field = object->if_contains(key); field && field->is_array()) {
      for (const auto& item : field->as_array()) {
        if (item.is_string()) {
          out.emplace_back(item.as_string());
        }
      }
    }
  }
  return out;
}

void register_broadcast(sio::Socket& socket) {
  socket.on("broadcast", [](sio::Socket& s, sio::Event& e) {
    json::value request = first_arg(e);
    sio::Payload payload;
    if (const auto* object = request.if_object()) {
      if (const auto* args = object->if_contains("args"); args && args->is_array()) {
        payload.args = args->as_array();
        payload.attachments = e.payload.attachments;
      }
    }
    selection_of(s, request).emit(string_field(request, "event"), std::move(payload));
    if (e.wants_ack()) {
      e.ack(json::array{"sent"});
    }
  });
}

// Cluster-wide operations, one event each (see node_server.js for the same list).
void register_cluster_handlers(sio::Socket& socket) {
  socket.on("fetch-details", [](sio::Socket& s, sio::Event& e) {
    auto ack = std::move(e.ack);
    std::string room = first_arg(e).is_string() ? std::string(first_arg(e).as_string()) : std::string();
    auto selection = room.empty() ? s.nsp().selection() : s.nsp().to(room);
    selection.fetch_sockets([ack](std::optional<std::string> error, std::vector<sio::SocketInfo> sockets) {
      if (error) {
        if (ack) {
          ack(json::array{json::object{{"error", *error}}});  // as the Node twin answers a rejection
        }
        return;
      }
      json::array list;
      for (auto& info : sockets) {
        std::sort(info.rooms.begin(), info.rooms.end());
        json::array rooms(info.rooms.begin(), info.rooms.end());
        list.push_back(json::object{{"id", info.id}, {"rooms", std::move(rooms)}, {"data", info.data}});
      }
      if (ack) {
        ack(json::array{std::move(list)});
      }
    });
  });
  socket.on("set-data", [](sio::Socket& s, sio::Event& e) {
    if (const auto* object = first_arg(e).if_object()) {
      s.data() = *object;
    }
    if (e.wants_ack()) {
      e.ack(json::array{"set"});
    }
  });
  socket.on("sockets-join", [](sio::Socket& s, sio::Event& e) {
    json::value request = first_arg(e);
    selection_of(s, request).sockets_join(strings_field(request, "rooms"));
    if (e.wants_ack()) {
      e.ack(json::array{"done"});
    }
  });
  socket.on("sockets-leave", [](sio::Socket& s, sio::Event& e) {
    json::value request = first_arg(e);
    selection_of(s, request).sockets_leave(strings_field(request, "rooms"));
    if (e.wants_ack()) {
      e.ack(json::array{"done"});
    }
  });
  socket.on("disconnect-sockets", [](sio::Socket& s, sio::Event& e) {
    json::value request = first_arg(e);
    bool close = false;
    if (const auto* object = request.if_object()) {
      if (const auto* field = object->if_contains("close"); field && field->is_bool()) {
        close = field->as_bool();
      }
    }
    if (e.wants_ack()) {
      e.ack(json::array{"done"});
    }
    selection_of(s, request).disconnect_sockets(close);
  });
  socket.on("server-side-emit", [](sio::Socket& s, sio::Event& e) {
    json::array args;
    if (const auto* object = first_arg(e).if_object()) {
      if (const auto* field = object->if_contains("args"); field && field->is_array()) {
        args = field->as_array();
      }
    }
    s.nsp().server_side_emit("note", std::move(args));
    if (e.wants_ack()) {
      e.ack(json::array{"sent"});
    }
  });
  socket.on("server-side-emit-ack", [](sio::Socket& s, sio::Event& e) {
    json::value request = first_arg(e);
    json::value arg;
    if (const auto* object = request.if_object()) {
      if (const auto* field = object->if_contains("arg")) {
        arg = *field;
      }
    }
    auto ack = std::move(e.ack);
    s.nsp().server_side_emit_with_ack(
        "ask", json::array{std::move(arg)}, std::chrono::milliseconds(int_field(request, "timeout", 5000)),
        [ack](std::optional<std::string> error, std::vector<json::value> replies) {
          if (ack) {
            ack(json::array{json::object{{"error", error ? json::value(*error) : json::value{}},
                                         {"responses", json::array(replies.begin(), replies.end())}}});
          }
        });
  });
  socket.on("all-rooms", [](sio::Socket& s, sio::Event& e) {
    auto ack = std::move(e.ack);
    s.nsp().all_rooms([ack](std::vector<std::string> rooms) {
      std::sort(rooms.begin(), rooms.end());
      if (ack) {
        ack(json::array{json::array(rooms.begin(), rooms.end())});
      }
    });
  });
  socket.on("server-count", [](sio::Socket& s, sio::Event& e) {
    auto ack = std::move(e.ack);
    s.nsp().server_count([ack](std::size_t count) {
      if (ack) {
        ack(json::array{count});
      }
    });
  });
  socket.on("whoami", [](sio::Socket& s, sio::Event& e) {
    if (e.wants_ack()) {
      e.ack(json::array{json::object{{"server", node_name}, {"id", s.id()}}});
    }
  });
}

void register_root_handlers(sio::Socket& socket) {
  emit_auth(socket);
  register_broadcast(socket);
  register_cluster_handlers(socket);
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
    selection_of(s, request).timeout(timeout).emit_with_ack(
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
    selection.fetch_sockets([ack](std::optional<std::string> error, std::vector<sio::SocketInfo> sockets) {
      if (error) {
        if (ack) {
          ack(json::array{json::object{{"error", *error}}});
        }
        return;
      }
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
  std::string redis_url;
  std::string redis_key = "socket.io";
  std::string redis_mode = "classic";
  std::int64_t requests_timeout_ms = 5000;
  cli.add_option("--port", port, "TCP port (0: any free port)");
  cli.add_option("--shards", shards, "event loops");
  cli.add_option("--redis-url", redis_url, "join a cluster through this Redis (empty: in memory)");
  cli.add_option("--redis-key", redis_key, "channel prefix shared by the cluster");
  cli.add_option("--redis-mode", redis_mode, "classic or sharded")->check(CLI::IsMember({"classic", "sharded"}));
  cli.add_option("--requests-timeout", requests_timeout_ms, "cluster requests timeout (ms)");
  cli.add_option("--name", node_name, "this node's name in server-side answers");
  CLI11_PARSE(cli, argc, argv);

  net::ShardPool pool(shards);
  net::HttpContext http{pool, {}, {}};
  sio::ServerOptions options;
  options.engine.ping_interval = 2000ms;
  options.engine.ping_timeout = 3000ms;
  options.engine.allow_eio3 = true;
  options.engine.cors.enabled = true;
  options.adapter = adapter::MemoryAdapter::factory();
  std::unique_ptr<adapter::redis::Cluster> cluster;
  if (!redis_url.empty()) {
    std::string error;
    auto endpoint = redis::parse_url(redis_url, &error);
    if (!endpoint) {
      std::fprintf(stderr, "--redis-url: %s\n", error.c_str());
      return 2;
    }
    cluster = std::make_unique<adapter::redis::Cluster>(
        pool.context(0), adapter::redis::ClusterOptions{
                             .endpoint = *endpoint,
                             .key = redis_key,
                             .mode = redis_mode == "sharded" ? adapter::redis::Mode::sharded : adapter::redis::Mode::classic,
                             .requests_timeout = std::chrono::milliseconds(requests_timeout_ms)});
    options.adapter = cluster->factory();
  }
  sio::Server io(pool, options);

  auto& root = io.of("/");
  root.on_connection(register_root_handlers);
  root.on_server_side("note", [&root](json::array args, sio::ServerSideReply) {
    root.local().emit("server-note", json::array{json::object{{"server", node_name}, {"args", std::move(args)}}});
  });
  root.on_server_side("ask", [](json::array args, sio::ServerSideReply reply) {
    if (!reply) {
      return;
    }
    std::string question = !args.empty() && args[0].is_string() ? std::string(args[0].as_string()) : json::serialize(args.empty() ? json::value{} : args[0]);
    reply(json::string(node_name + " answers " + question));
  });
  io.of("/custom").on_connection([](sio::Socket& socket) {
    emit_auth(socket);
    register_broadcast(socket);
  });
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
  if (cluster) {
    cluster->start();
  }
  std::printf("iogate listening on port %u\n", static_cast<unsigned>(port));
  std::fflush(stdout);

  io.run_until_signal(listener);
  return 0;
}
