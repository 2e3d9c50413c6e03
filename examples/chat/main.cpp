// A chat server with rooms, and the page that uses it (public/index.html, socket.io-client).
// Run it, open http://localhost:3000/ in two tabs, pick a name and a room, and talk.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "adapter/memory/memory_adapter.h"
#include "net/listener.h"
#include "net/shard_pool.h"
#include "net/static_files.h"
#include "sio/server.h"

using namespace iogate;
namespace json = boost::json;

namespace {

std::string text_arg(const sio::Event& event, std::size_t index) {
  const auto& args = event.payload.args;
  return index < args.size() && args[index].is_string() ? std::string(args[index].as_string()) : std::string();
}

// Each socket keeps its name and room in its data, so fetch_sockets() can list a room's members.
std::string field(sio::Socket& socket, const char* key) {
  const auto* value = socket.data().if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

void on_chat_connection(sio::Socket& socket) {
  socket.data()["name"] = "anonymous";

  // join(name, room): leave the previous room, enter the new one, tell both rooms.
  socket.on("join", [](sio::Socket& s, sio::Event& event) {
    std::string name = text_arg(event, 0);
    std::string room = text_arg(event, 1);
    if (name.empty() || room.empty() || name.size() > 32 || room.size() > 32) {
      if (event.wants_ack()) {
        event.ack(json::array{json::object{{"error", "name and room: 1 to 32 characters"}}});
      }
      return;
    }
    if (auto previous = field(s, "room"); !previous.empty()) {
      s.leave(previous);
      s.to(previous).emit("left", json::array{field(s, "name")});
    }
    s.data()["name"] = name;
    s.data()["room"] = room;
    s.join(room);
    s.to(room).emit("joined", json::array{name});
    // Answer with the names already in the room (every shard, every node).
    s.nsp().to(room).fetch_sockets([ack = std::move(event.ack)](auto, std::vector<sio::SocketInfo> members) {
      json::array names;
      for (const auto& member : members) {
        if (const auto* member_name = member.data.if_contains("name")) {
          names.push_back(*member_name);
        }
      }
      if (ack) {
        ack(json::array{json::object{{"members", std::move(names)}}});
      }
    });
  });

  // say(text): to everyone in the room, the sender included.
  socket.on("say", [](sio::Socket& s, sio::Event& event) {
    std::string room = field(s, "room");
    std::string text = text_arg(event, 0);
    if (room.empty() || text.empty() || text.size() > 2000) {
      return;
    }
    s.nsp().to(room).emit("said", json::array{json::object{{"name", field(s, "name")}, {"text", text}}});
  });

  socket.on_disconnect([](sio::Socket& s, std::string_view) {
    if (auto room = field(s, "room"); !room.empty()) {
      s.nsp().to(room).emit("left", json::array{field(s, "name")});
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"iogate chat example"};
  std::string host = "0.0.0.0";
  std::uint16_t port = 3000;
  std::size_t shards = 0;
  std::string public_folder = IOGATE_CHAT_PUBLIC_DIR;
  cli.add_option("--host", host, "address to listen on");
  cli.add_option("--port", port, "TCP port (0: any free port)");
  cli.add_option("--shards", shards, "event loops (0: one per core)");
  cli.add_option("--public", public_folder, "folder of the page");
  CLI11_PARSE(cli, argc, argv);

  net::ShardPool pool(shards);
  sio::ServerOptions options;
  options.adapter = adapter::MemoryAdapter::factory();
  sio::Server io(pool, options);
  io.of("/chat").on_connection(on_chat_connection);

  net::StaticFiles page(public_folder);
  net::HttpContext http{pool, {}, {}};
  http.router.add(io.engine().options().path, &io.engine());
  http.router.add("/", &page);
  net::Listener listener(http);
  port = listener.listen(host, port);
  listener.start();
  std::printf("iogate listening on port %u\n", static_cast<unsigned>(port));
  std::fflush(stdout);

  io.run_until_signal(listener);
}
