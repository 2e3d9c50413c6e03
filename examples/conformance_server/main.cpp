// The server the official Engine.IO and Socket.IO protocol test suites are written against:
// a bare Engine.IO echo at /engine.io/ and Socket.IO at /socket.io/, with the suites' settings.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "adapter/memory/memory_adapter.h"
#include "eio/server.h"
#include "net/listener.h"
#include "net/shard_pool.h"
#include "sio/server.h"

using namespace iogate;
using namespace std::chrono_literals;

namespace {

// Sends every message back unchanged, text or binary.
class Echo final : public eio::ConnectionHandler {
 public:
  explicit Echo(eio::Connection& connection) : connection_(connection) {}
  void on_message(std::string_view data, bool binary) override {
    connection_.send(binary ? eio::make_binary_packet(data) : eio::make_text_packet(eio::PacketType::message, data));
  }
  void on_close(std::string_view) override {}

 private:
  eio::Connection& connection_;
};

eio::ServerOptions suite_options(std::string path) {
  eio::ServerOptions options;
  options.path = std::move(path);
  options.ping_interval = 300ms;
  options.ping_timeout = 200ms;
  options.max_http_buffer_size = 1'000'000;
  options.allow_eio3 = true;
  options.cors.enabled = true;
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"iogate conformance fixture"};
  std::uint16_t port = 3000;
  std::size_t shards = 0;
  cli.add_option("--port", port, "TCP port on 127.0.0.1 and ::1 (0: any free port)");
  cli.add_option("--shards", shards, "event loops (0: one per core)");
  CLI11_PARSE(cli, argc, argv);

  net::ShardPool pool(shards);
  net::HttpContext http{pool, {}, {}};

  eio::Server engine(pool, suite_options("/engine.io/"),
                     [](eio::Connection& connection) { return std::make_unique<Echo>(connection); });

  sio::ServerOptions io_options;
  io_options.engine = suite_options("/socket.io/");
  io_options.connect_timeout = 1000ms;
  io_options.adapter = adapter::MemoryAdapter::factory();
  sio::Server io(pool, io_options);

  io.of("/").on_connection([](sio::Socket& socket) {
    socket.emit("auth", sio::Payload{boost::json::array{socket.auth()}});
    socket.on("message", [](sio::Socket& s, sio::Event& event) { s.emit("message-back", std::move(event.payload)); });
    socket.on("message-with-ack", [](sio::Socket&, sio::Event& event) {
      if (event.wants_ack()) {
        event.ack(std::move(event.payload));
      }
    });
  });
  io.of("/custom").on_connection([](sio::Socket& socket) {
    socket.emit("auth", sio::Payload{boost::json::array{socket.auth()}});
  });

  http.router.add(engine.options().path, &engine);
  http.router.add(io.engine().options().path, &io.engine());
  http.settings.max_body_size = 1'000'000;

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

  io.run_until_signal(listener, [&engine] { engine.close_all(); });
  return 0;
}
