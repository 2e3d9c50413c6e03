// The Socket.IO server core driven without a network: MemoryConnections stand in for Engine.IO
// sessions, and the test thread runs the single shard's loop by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "adapter/memory/memory_adapter.h"
#include "memory_connection.h"
#include "net/shard_pool.h"
#include "sio/broadcast_operator.h"
#include "sio/namespace.h"
#include "sio/server.h"
#include "sio/socket.h"

namespace iogate::sio {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using test_support::MemoryConnection;

// Counts what reaches the adapter, then does what the memory adapter does.
struct AdapterCalls {
  int broadcast = 0;
  int broadcast_with_ack = 0;
  int add_sockets = 0;
  int del_sockets = 0;
  int disconnect_sockets = 0;
  int fetch_sockets = 0;
};

class CountingAdapter final : public Adapter {
 public:
  CountingAdapter(LocalSockets& local, AdapterCalls& calls) : inner_(local), calls_(calls) {}

  void broadcast(const Packet& packet, const BroadcastOptions& options) override {
    ++calls_.broadcast;
    inner_.broadcast(packet, options);
  }
  void broadcast_with_ack(const Packet& packet, const BroadcastOptions& options,
                          std::shared_ptr<AckSink> sink) override {
    ++calls_.broadcast_with_ack;
    inner_.broadcast_with_ack(packet, options, std::move(sink));
  }
  void add_sockets(const BroadcastOptions& options, std::vector<std::string> rooms) override {
    ++calls_.add_sockets;
    inner_.add_sockets(options, std::move(rooms));
  }
  void del_sockets(const BroadcastOptions& options, std::vector<std::string> rooms) override {
    ++calls_.del_sockets;
    inner_.del_sockets(options, std::move(rooms));
  }
  void disconnect_sockets(const BroadcastOptions& options, bool close) override {
    ++calls_.disconnect_sockets;
    inner_.disconnect_sockets(options, close);
  }
  void fetch_sockets(const BroadcastOptions& options, FetchCallback done) override {
    ++calls_.fetch_sockets;
    inner_.fetch_sockets(options, std::move(done));
  }
  void all_rooms(std::function<void(std::vector<std::string>)> done) override { inner_.all_rooms(std::move(done)); }
  void server_side_emit(const boost::json::array& data) override { inner_.server_side_emit(data); }
  void server_side_emit_with_ack(const boost::json::array& data, std::chrono::milliseconds timeout,
                                 ServerSideAckCollector done) override {
    inner_.server_side_emit_with_ack(data, timeout, std::move(done));
  }
  void server_count(std::function<void(std::size_t)> done) override { inner_.server_count(std::move(done)); }

 private:
  adapter::MemoryAdapter inner_;
  AdapterCalls& calls_;
};

struct Disconnect {
  std::string socket_id;
  std::string reason;
};

class SioServerTest : public ::testing::Test {
 protected:
  ServerOptions options() {
    ServerOptions result;
    result.adapter = [calls = &calls](std::string_view, LocalSockets& local) {
      return std::make_unique<CountingAdapter>(local, *calls);
    };
    return result;
  }

  // A session whose handshake is done: the server has made its client, no namespace yet.
  MemoryConnection& open(eio::Revision revision = eio::Revision::v4) {
    connections.push_back(std::make_unique<MemoryConnection>(pool, 0, revision));
    connections.back()->open(io.engine().connection_factory());
    return *connections.back();
  }

  MemoryConnection& connect(std::string_view connect_packet = "0") {
    auto& connection = open();
    connection.receive(connect_packet);
    poll();
    return connection;
  }

  void poll() { pool.context(0).poll(); }

  // Runs the loop until `done` holds or `limit` passed; returns done().
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 2s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      pool.context(0).run_for(5ms);
    }
    return done();
  }

  // Keeps every socket that connects to `nsp`, in connection order.
  void track(Namespace& nsp) {
    nsp.on_connection([this](Socket& socket) {
      sockets.push_back(socket.shared_from_this());
      socket.on_disconnect([this](Socket& s, std::string_view reason) {
        disconnects.push_back(Disconnect{s.id(), std::string(reason)});
      });
    });
  }

  std::vector<std::string> reasons_of(const Socket& socket) const {
    std::vector<std::string> out;
    for (const auto& d : disconnects) {
      if (d.socket_id == socket.id()) {
        out.push_back(d.reason);
      }
    }
    return out;
  }

  void clear_all_sent() {
    for (auto& connection : connections) {
      connection->clear_sent();
    }
  }

  static std::uint64_t ack_id_of(std::string_view text) {
    // "42<id>[...]" or "42/nsp,<id>[...]"
    text.remove_prefix(2);
    if (!text.empty() && text.front() == '/') {
      text.remove_prefix(text.find(',') + 1);
    }
    std::uint64_t id = 0;
    while (!text.empty() && text.front() >= '0' && text.front() <= '9') {
      id = id * 10 + static_cast<std::uint64_t>(text.front() - '0');
      text.remove_prefix(1);
    }
    return id;
  }

  static std::string sid_of_connect_reply(std::string_view text) {
    auto body = text.substr(text.find('{'));
    return std::string(json::parse(body).as_object().at("sid").as_string());
  }

  AdapterCalls calls;
  net::ShardPool pool{1};
  Server io{pool, options()};
  std::vector<std::unique_ptr<MemoryConnection>> connections;
  std::vector<std::shared_ptr<Socket>> sockets;
  std::vector<Disconnect> disconnects;
};

// ---- broadcast: encoded once, shared by every recipient -------------------------------------

TEST_F(SioServerTest, BroadcastToRoomOfTenThousandEncodesOnceAndSharesOnePacket) {
  constexpr std::size_t kCount = 10'000;
  for (std::size_t i = 0; i < kCount; ++i) {
    open().receive("0");
  }
  poll();
  ASSERT_EQ(io.of("/").local_socket_count(), kCount);
  io.of("/").selection().sockets_join({"room"});
  poll();
  auto& outsider = connect("0");
  clear_all_sent();

  const std::uint64_t before = packets_encoded();
  io.of("/").to("room").emit("hello", Payload{json::array{"world", 42}});
  EXPECT_EQ(packets_encoded() - before, 1U);
  poll();
  EXPECT_EQ(packets_encoded() - before, 1U);

  EXPECT_TRUE(outsider.sent().empty());
  ASSERT_EQ(connections.front()->sent().size(), 1U);
  const eio::SharedPacket first = connections.front()->sent().front();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->packet_bytes(), R"(42["hello","world",42])");
  std::size_t sharing = 0;
  std::size_t wrong_count = 0;
  for (std::size_t i = 0; i < kCount; ++i) {
    const auto& sent = connections[i]->sent();
    if (sent.size() != 1) {
      ++wrong_count;
      continue;
    }
    sharing += sent.front().get() == first.get() ? 1 : 0;
  }
  EXPECT_EQ(wrong_count, 0U);
  EXPECT_EQ(sharing, kCount);
}

TEST_F(SioServerTest, BroadcastWithAttachmentSharesTextAndBinaryPackets) {
  for (int i = 0; i < 3; ++i) {
    connect("0");
  }
  clear_all_sent();
  Payload payload;
  payload.args.emplace_back("photo");
  payload.args.push_back(payload.attach(std::string("\x00\x01\xFF", 3)));
  const std::uint64_t before = packets_encoded();
  io.of("/").emit("upload", std::move(payload));
  poll();
  EXPECT_EQ(packets_encoded() - before, 1U);
  const auto& reference = connections[0]->sent();
  ASSERT_EQ(reference.size(), 2U);
  EXPECT_EQ(reference[0]->packet_bytes(), R"(451-["upload","photo",{"_placeholder":true,"num":0}])");
  EXPECT_TRUE(reference[1]->binary);
  EXPECT_EQ(reference[1]->packet_bytes(), std::string_view("\x00\x01\xFF", 3));
  for (const auto& connection : connections) {
    ASSERT_EQ(connection->sent().size(), 2U);
    EXPECT_EQ(connection->sent()[0].get(), reference[0].get());
    EXPECT_EQ(connection->sent()[1].get(), reference[1].get());
  }
}

// ---- selection: rooms, exceptions, flags --------------------------------------------------------

TEST_F(SioServerTest, ToAndExceptSelectTheUnionMinusTheExceptionsEachOnce) {
  track(io.of("/"));
  const std::vector<std::vector<std::string>> rooms = {{"A"}, {"B"}, {"A", "B"}, {"A", "C"}, {"C"}, {}, {"B", "C"}};
  for (std::size_t i = 0; i < rooms.size(); ++i) {
    connect("0");
  }
  ASSERT_EQ(sockets.size(), rooms.size());
  for (std::size_t i = 0; i < rooms.size(); ++i) {
    sockets[i]->join(rooms[i]);
  }
  auto received = [&] {
    std::vector<std::size_t> counts;
    for (const auto& connection : connections) {
      counts.push_back(connection->sent().size());
    }
    clear_all_sent();
    return counts;
  };
  clear_all_sent();

  io.of("/").to("A").to("B").except("C").emit("x");
  poll();
  EXPECT_EQ(received(), (std::vector<std::size_t>{1, 1, 1, 0, 0, 0, 0}));

  io.of("/").selection().to(std::vector<std::string>{"A", "B", "A"}).except(std::vector<std::string>{"C"}).emit("x");
  poll();
  EXPECT_EQ(received(), (std::vector<std::size_t>{1, 1, 1, 0, 0, 0, 0}));

  io.of("/").in("A").in("C").emit("x");
  poll();
  EXPECT_EQ(received(), (std::vector<std::size_t>{1, 0, 1, 1, 1, 0, 1}));

  io.of("/").except("A").emit("x");
  poll();
  EXPECT_EQ(received(), (std::vector<std::size_t>{0, 1, 0, 0, 1, 1, 1}));

  io.of("/").except("A").except("B").except("C").emit("x");
  poll();
  EXPECT_EQ(received(), (std::vector<std::size_t>{0, 0, 0, 0, 0, 1, 0}));

  io.of("/").to("nobody").emit("x");
  poll();
  EXPECT_EQ(received(), (std::vector<std::size_t>{0, 0, 0, 0, 0, 0, 0}));

  // Every socket is in the room of its own id.
  io.of("/").to(sockets[3]->id()).to(sockets[5]->id()).emit("x");
  poll();
  EXPECT_EQ(received(), (std::vector<std::size_t>{0, 0, 0, 1, 0, 1, 0}));
}

TEST_F(SioServerTest, SocketToExcludesTheSender) {
  track(io.of("/"));
  for (int i = 0; i < 4; ++i) {
    connect("0");
  }
  for (int i = 0; i < 3; ++i) {
    sockets[static_cast<std::size_t>(i)]->join("room");
  }
  sockets[0]->on("say", [](Socket& s, Event& e) { s.to("room").emit("relay", std::move(e.payload)); });
  sockets[0]->on("shout", [](Socket& s, Event& e) { s.broadcast().emit("relay", std::move(e.payload)); });
  sockets[0]->on("whisper", [this](Socket& s, Event& e) { s.to(sockets[2]->id()).emit("relay", std::move(e.payload)); });
  clear_all_sent();

  connections[0]->receive(R"(2["say","hi"])");
  poll();
  EXPECT_TRUE(connections[0]->sent().empty());
  EXPECT_EQ(connections[1]->texts(), (std::vector<std::string>{R"(42["relay","hi"])"}));
  EXPECT_EQ(connections[2]->texts(), (std::vector<std::string>{R"(42["relay","hi"])"}));
  EXPECT_TRUE(connections[3]->sent().empty());
  clear_all_sent();

  connections[0]->receive(R"(2["shout","all"])");
  poll();
  EXPECT_TRUE(connections[0]->sent().empty());
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(connections[i]->texts(), (std::vector<std::string>{R"(42["relay","all"])"})) << i;
  }
  clear_all_sent();

  connections[0]->receive(R"(2["whisper","psst"])");
  poll();
  EXPECT_EQ(connections[2]->texts(), (std::vector<std::string>{R"(42["relay","psst"])"}));
  EXPECT_TRUE(connections[0]->sent().empty());
  EXPECT_TRUE(connections[1]->sent().empty());
  EXPECT_TRUE(connections[3]->sent().empty());
}

TEST_F(SioServerTest, NamespaceEventHandlersRunForEverySocketAfterItsOwn) {
  auto& nsp = io.of("/");
  std::vector<std::string> order;
  nsp.on("echo", [&order](Socket& s, Event& e) {
    order.push_back("namespace:" + s.id());
    if (e.wants_ack()) {
      e.ack(std::move(e.payload));
    }
  });
  nsp.on_connection([&order](Socket& socket) {
    socket.on("echo", [&order](Socket& s, Event&) { order.push_back("socket:" + s.id()); });
  });
  track(nsp);
  auto& first = connect("0");
  auto& second = connect("0");
  clear_all_sent();

  first.receive(R"(27["echo","one"])");
  second.receive(R"(2["echo","two"])");
  poll();
  EXPECT_EQ(first.texts(), (std::vector<std::string>{R"(437["one"])"}));
  EXPECT_TRUE(second.sent().empty());
  EXPECT_EQ(order, (std::vector<std::string>{"socket:" + sockets[0]->id(), "namespace:" + sockets[0]->id(),
                                             "socket:" + sockets[1]->id(), "namespace:" + sockets[1]->id()}));
}

TEST_F(SioServerTest, SocketIdRoomsAreAnsweredByTheSocketTableAndCanBeLeft) {
  auto& nsp = io.of("/");
  track(nsp);
  for (int i = 0; i < 3; ++i) {
    connect("0");
  }
  const std::string a = sockets[0]->id();
  sockets[1]->join(a);  // a room that happens to be named like another socket's id
  clear_all_sent();

  nsp.to(a).emit("hi");
  nsp.except(a).emit("others");
  poll();
  EXPECT_EQ(connections[0]->texts(), (std::vector<std::string>{R"(42["hi"])"}));
  EXPECT_EQ(connections[1]->texts(), (std::vector<std::string>{R"(42["hi"])"}));
  EXPECT_EQ(connections[2]->texts(), (std::vector<std::string>{R"(42["others"])"}));

  std::vector<std::string> rooms;
  nsp.all_rooms([&](std::vector<std::string> all) { rooms = std::move(all); });
  poll();
  std::sort(rooms.begin(), rooms.end());
  std::vector<std::string> expected{sockets[0]->id(), sockets[1]->id(), sockets[2]->id()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(rooms, expected);

  sockets[0]->leave(a);
  clear_all_sent();
  nsp.to(a).emit("after-leave");
  poll();
  EXPECT_TRUE(connections[0]->sent().empty());
  EXPECT_EQ(connections[1]->texts(), (std::vector<std::string>{R"(42["after-leave"])"}));
}

TEST_F(SioServerTest, LocalBypassesTheAdapter) {
  connect("0");
  connect("0");
  clear_all_sent();
  const int broadcasts = calls.broadcast;

  io.of("/").local().emit("x");
  poll();
  EXPECT_EQ(calls.broadcast, broadcasts);
  EXPECT_EQ(connections[0]->texts(), (std::vector<std::string>{R"(42["x"])"}));
  EXPECT_EQ(connections[1]->texts(), (std::vector<std::string>{R"(42["x"])"}));
  clear_all_sent();

  io.of("/").emit("y");
  poll();
  EXPECT_EQ(calls.broadcast, broadcasts + 1);
  EXPECT_EQ(connections[0]->texts(), (std::vector<std::string>{R"(42["y"])"}));

  const AdapterCalls before = calls;
  io.of("/").local().sockets_join({"r"});
  io.of("/").local().sockets_leave({"r"});
  io.of("/").local().fetch_sockets([](std::optional<std::string>, std::vector<SocketInfo>) {});
  io.of("/").local().emit_with_ack("z", {}, [](std::optional<std::string>, std::vector<Payload>) {});
  io.of("/").local().disconnect_sockets();
  poll();
  EXPECT_EQ(calls.add_sockets, before.add_sockets);
  EXPECT_EQ(calls.del_sockets, before.del_sockets);
  EXPECT_EQ(calls.fetch_sockets, before.fetch_sockets);
  EXPECT_EQ(calls.broadcast_with_ack, before.broadcast_with_ack);
  EXPECT_EQ(calls.disconnect_sockets, before.disconnect_sockets);
  EXPECT_EQ(io.of("/").local_socket_count(), 0U);
}

TEST_F(SioServerTest, VolatileIsDroppedWhereTheConnectionIsNotWritable) {
  track(io.of("/"));
  auto& writable = connect("0");
  auto& busy = connect("0");
  busy.set_writable(false);
  clear_all_sent();

  io.of("/").volatile_().emit("tick", Payload{json::array{1}});
  poll();
  EXPECT_EQ(writable.texts(), (std::vector<std::string>{R"(42["tick",1])"}));
  EXPECT_TRUE(busy.sent().empty());
  clear_all_sent();

  sockets[1]->emit("tick", Payload{json::array{2}}, true);
  sockets[0]->emit("tick", Payload{json::array{2}}, true);
  EXPECT_TRUE(busy.sent().empty());
  EXPECT_EQ(writable.texts(), (std::vector<std::string>{R"(42["tick",2])"}));
  clear_all_sent();

  // Not volatile: queued even while the connection is busy.
  io.of("/").emit("important");
  sockets[1]->emit("direct");
  poll();
  EXPECT_EQ(busy.texts(), (std::vector<std::string>{R"(42["direct"])", R"(42["important"])"}));
}

TEST_F(SioServerTest, SocketsJoinAndLeaveOnSelections) {
  track(io.of("/"));
  for (int i = 0; i < 4; ++i) {
    connect("0");
  }
  sockets[0]->join("A");
  sockets[1]->join("A");
  sockets[2]->join("B");

  io.of("/").in("A").sockets_join({"X", "Y"});
  poll();
  EXPECT_TRUE(sockets[0]->in_room("X") && sockets[0]->in_room("Y"));
  EXPECT_TRUE(sockets[1]->in_room("X") && sockets[1]->in_room("Y"));
  EXPECT_FALSE(sockets[2]->in_room("X") || sockets[3]->in_room("X"));

  sockets[1]->join("B");
  io.of("/").in("A").except("B").sockets_join({"Z"});
  poll();
  EXPECT_TRUE(sockets[0]->in_room("Z"));
  EXPECT_FALSE(sockets[1]->in_room("Z") || sockets[2]->in_room("Z") || sockets[3]->in_room("Z"));

  io.of("/").to(sockets[1]->id()).sockets_leave({"X", "A", "never-joined"});
  poll();
  EXPECT_TRUE(sockets[0]->in_room("X") && sockets[0]->in_room("A"));
  EXPECT_FALSE(sockets[1]->in_room("X") || sockets[1]->in_room("A"));
  EXPECT_TRUE(sockets[1]->in_room("Y"));

  // The room index follows: a broadcast to X reaches socket 0 only.
  clear_all_sent();
  io.of("/").to("X").emit("x");
  poll();
  EXPECT_EQ(connections[0]->sent().size(), 1U);
  EXPECT_TRUE(connections[1]->sent().empty());

  io.of("/").selection().sockets_leave({"Y"});
  poll();
  for (const auto& socket : sockets) {
    EXPECT_FALSE(socket->in_room("Y"));
    EXPECT_TRUE(socket->in_room(socket->id())) << "own room kept";
  }
}

TEST_F(SioServerTest, FetchSocketsReportsTheSelection) {
  track(io.of("/"));
  for (int i = 0; i < 3; ++i) {
    connect("0");
  }
  sockets[0]->join("A");
  sockets[2]->join("A");
  sockets[2]->data()["name"] = "carol";

  std::optional<std::vector<SocketInfo>> found;
  io.of("/").in("A").fetch_sockets([&](std::optional<std::string>, std::vector<SocketInfo> infos) { found = std::move(infos); });
  poll();
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->size(), 2U);
  std::map<std::string, const SocketInfo*> by_id;
  for (const auto& info : *found) {
    by_id[info.id] = &info;
  }
  ASSERT_TRUE(by_id.contains(sockets[0]->id()));
  ASSERT_TRUE(by_id.contains(sockets[2]->id()));
  const SocketInfo& carol = *by_id[sockets[2]->id()];
  EXPECT_EQ(carol.nsp, "/");
  EXPECT_EQ(std::set<std::string>(carol.rooms.begin(), carol.rooms.end()),
            (std::set<std::string>{sockets[2]->id(), "A"}));
  EXPECT_EQ(carol.data.at("name").as_string(), "carol");
  EXPECT_EQ(carol.handshake.at("url").as_string(), "/socket.io/?EIO=4&transport=websocket");
  EXPECT_EQ(carol.handshake.at("address").as_string(), "127.0.0.1");
  EXPECT_EQ(carol.handshake.at("query").as_object().at("EIO").as_string(), "4");
  EXPECT_TRUE(carol.handshake.at("auth").is_object());

  std::optional<std::size_t> everyone;
  io.of("/").selection().fetch_sockets([&](std::optional<std::string>, std::vector<SocketInfo> infos) { everyone = infos.size(); });
  std::optional<std::size_t> nobody;
  io.of("/").in("empty").fetch_sockets([&](std::optional<std::string>, std::vector<SocketInfo> infos) { nobody = infos.size(); });
  poll();
  EXPECT_EQ(everyone, 3U);
  EXPECT_EQ(nobody, 0U);
}

TEST_F(SioServerTest, DisconnectSocketsOnASelection) {
  track(io.of("/"));
  for (int i = 0; i < 4; ++i) {
    connect("0");
  }
  sockets[0]->join("A");
  sockets[1]->join("A");
  sockets[3]->join("B");
  clear_all_sent();

  io.of("/").in("A").disconnect_sockets();
  poll();
  EXPECT_FALSE(sockets[0]->connected());
  EXPECT_FALSE(sockets[1]->connected());
  EXPECT_TRUE(sockets[2]->connected());
  EXPECT_EQ(connections[0]->texts(), (std::vector<std::string>{"41"}));
  EXPECT_EQ(connections[1]->texts(), (std::vector<std::string>{"41"}));
  EXPECT_TRUE(connections[2]->sent().empty());
  EXPECT_EQ(reasons_of(*sockets[0]), (std::vector<std::string>{"server namespace disconnect"}));
  EXPECT_EQ(connections[0]->close_calls(), 0);
  EXPECT_EQ(io.of("/").local_socket_count(), 2U);

  // close=true also ends the connection; the socket still leaves as the server's doing.
  clear_all_sent();
  io.of("/").in("B").disconnect_sockets(true);
  poll();
  EXPECT_FALSE(sockets[3]->connected());
  EXPECT_EQ(connections[3]->close_calls(), 1);
  EXPECT_TRUE(connections[3]->closed());
  EXPECT_EQ(connections[3]->texts(), (std::vector<std::string>{"41"}));
  EXPECT_EQ(reasons_of(*sockets[3]), (std::vector<std::string>{"server namespace disconnect"}));
  EXPECT_TRUE(sockets[2]->connected());
  EXPECT_EQ(io.of("/").local_socket_count(), 1U);
}

// ---- acknowledgements ---------------------------------------------------------------------------

TEST_F(SioServerTest, BroadcastWithAckCollectsEveryReply) {
  for (int i = 0; i < 3; ++i) {
    connect("0");
  }
  clear_all_sent();
  bool called = false;
  std::optional<std::string> error;
  std::vector<Payload> replies;
  const std::uint64_t before = packets_encoded();
  io.of("/").timeout(2s).emit_with_ack("question", Payload{json::array{1}},
                                       [&](std::optional<std::string> e, std::vector<Payload> r) {
                                         called = true;
                                         error = std::move(e);
                                         replies = std::move(r);
                                       });
  poll();
  EXPECT_EQ(packets_encoded() - before, 1U);
  std::uint64_t id = 0;
  for (std::size_t i = 0; i < connections.size(); ++i) {
    ASSERT_EQ(connections[i]->sent().size(), 1U);
    EXPECT_EQ(connections[i]->sent()[0].get(), connections[0]->sent()[0].get());
    id = ack_id_of(connections[i]->last_text());
    EXPECT_EQ(connections[i]->last_text(), "42" + std::to_string(id) + R"(["question",1])");
  }
  connections[0]->receive("3" + std::to_string(id) + R"(["a"])");
  connections[1]->receive("3" + std::to_string(id) + R"(["b",2])");
  poll();
  EXPECT_FALSE(called);
  connections[2]->receive("3" + std::to_string(id) + R"(["c"])");
  poll();
  ASSERT_TRUE(called);
  EXPECT_FALSE(error.has_value());
  std::multiset<std::string> got;
  for (const auto& reply : replies) {
    got.insert(json::serialize(reply.args));
  }
  EXPECT_EQ(got, (std::multiset<std::string>{R"(["a"])", R"(["b",2])", R"(["c"])"}));
}

TEST_F(SioServerTest, BroadcastWithAckTimesOutWithThePartialReplies) {
  for (int i = 0; i < 3; ++i) {
    connect("0");
  }
  clear_all_sent();
  int calls_count = 0;
  std::optional<std::string> error;
  std::vector<Payload> replies;
  io.of("/").timeout(300ms).emit_with_ack("question", {}, [&](std::optional<std::string> e, std::vector<Payload> r) {
    ++calls_count;
    error = std::move(e);
    replies = std::move(r);
  });
  poll();
  const std::uint64_t id = ack_id_of(connections[0]->last_text());
  connections[0]->receive("3" + std::to_string(id) + R"(["only"])");
  poll();
  EXPECT_EQ(calls_count, 0);
  ASSERT_TRUE(run_until([&] { return calls_count > 0; }));
  EXPECT_EQ(error, "operation has timed out");
  ASSERT_EQ(replies.size(), 1U);
  EXPECT_EQ(json::serialize(replies[0].args), R"(["only"])");

  // A late reply changes nothing.
  connections[1]->receive("3" + std::to_string(id) + R"(["late"])");
  run_until([] { return false; }, 30ms);
  EXPECT_EQ(calls_count, 1);
}

TEST_F(SioServerTest, BroadcastWithAckToNobodyFinishesAtOnce) {
  connect("0");
  bool called = false;
  io.of("/").to("empty").emit_with_ack("q", {}, [&](std::optional<std::string> e, std::vector<Payload> r) {
    called = true;
    EXPECT_FALSE(e.has_value());
    EXPECT_TRUE(r.empty());
  });
  poll();
  EXPECT_TRUE(called);
}

TEST_F(SioServerTest, ServerEmitWithAckGetsTheReplyOrTimesOut) {
  track(io.of("/"));
  auto& connection = connect("0");
  connection.clear_sent();
  std::vector<std::optional<std::string>> results;
  auto record = [&](std::optional<Payload> reply) {
    results.push_back(reply ? std::optional<std::string>(json::serialize(reply->args)) : std::nullopt);
  };

  sockets[0]->emit_with_ack("ask", Payload{json::array{"x"}}, 1s, record);
  const std::uint64_t id = ack_id_of(connection.last_text());
  EXPECT_EQ(connection.last_text(), "42" + std::to_string(id) + R"(["ask","x"])");
  connection.receive("3" + std::to_string(id) + R"(["yes",1])");
  poll();
  ASSERT_EQ(results.size(), 1U);
  EXPECT_EQ(results[0], R"(["yes",1])");
  // An ack is answered once.
  connection.receive("3" + std::to_string(id) + R"(["again"])");
  poll();
  EXPECT_EQ(results.size(), 1U);

  sockets[0]->emit_with_ack("ask", {}, 20ms, record);
  const std::uint64_t second = ack_id_of(connection.last_text());
  EXPECT_NE(second, id);
  ASSERT_TRUE(run_until([&] { return results.size() == 2; }));
  EXPECT_EQ(results[1], std::nullopt);
  connection.receive("3" + std::to_string(second) + R"(["too late"])");
  poll();
  EXPECT_EQ(results.size(), 2U);
  EXPECT_TRUE(sockets[0]->connected());
}

TEST_F(SioServerTest, ClientAckIsAnsweredOnce) {
  io.of("/").on_connection([](Socket& socket) {
    socket.on("add", [](Socket&, Event& e) {
      ASSERT_TRUE(e.wants_ack());
      const auto sum = e.payload.args.at(0).as_int64() + e.payload.args.at(1).as_int64();
      e.ack(Payload{json::array{sum}});
      e.ack(Payload{json::array{"twice"}});
    });
    socket.on("no-ack", [](Socket&, Event& e) { EXPECT_FALSE(e.wants_ack()); });
  });
  auto& connection = connect("0");
  connection.clear_sent();
  connection.receive(R"(27["add",2,3])");
  connection.receive(R"(2["no-ack"])");
  poll();
  EXPECT_EQ(connection.texts(), (std::vector<std::string>{"437[5]"}));
}

// ---- connecting ---------------------------------------------------------------------------------

TEST_F(SioServerTest, ConnectReplyComesBeforeWhatTheHandlerEmits) {
  std::string socket_id;
  io.of("/").on_connection([&](Socket& socket) {
    socket_id = socket.id();
    socket.emit("welcome", Payload{json::array{1}});
    socket.emit("second");
  });
  auto& connection = connect("0");
  ASSERT_EQ(connection.sent().size(), 3U);
  const auto texts = connection.texts();
  EXPECT_EQ(texts[0], R"(40{"sid":")" + socket_id + R"("})");
  EXPECT_EQ(sid_of_connect_reply(texts[0]), socket_id);
  EXPECT_EQ(socket_id.size(), 20U);
  EXPECT_NE(socket_id, connection.id()) << "protocol 5 sockets get their own id";
  EXPECT_EQ(texts[1], R"(42["welcome",1])");
  EXPECT_EQ(texts[2], R"(42["second"])");
}

TEST_F(SioServerTest, ConnectToANamespaceWithAuth) {
  auto& admin = io.of("/admin");
  std::string token;
  admin.on_connection([&](Socket& socket) {
    token = std::string(socket.auth().as_object().at("token").as_string());
    socket.emit("hi");
  });
  auto& connection = connect(R"(0/admin,{"token":"abc"})");
  ASSERT_EQ(connection.sent().size(), 2U);
  EXPECT_EQ(connection.texts()[0].rfind(R"(40/admin,{"sid":")", 0), 0U);
  EXPECT_EQ(connection.texts()[1], R"(42/admin,["hi"])");
  EXPECT_EQ(token, "abc");
  EXPECT_EQ(admin.local_socket_count(), 1U);
  EXPECT_EQ(io.of("/").local_socket_count(), 0U);
}

TEST_F(SioServerTest, SocketIo2ClientIsConnectedToTheMainNamespaceAtOnce) {
  track(io.of("/"));
  auto& connection = open(eio::Revision::v3);
  EXPECT_EQ(connection.texts(), (std::vector<std::string>{"40"}));
  ASSERT_EQ(sockets.size(), 1U);
  EXPECT_EQ(sockets[0]->id(), connection.id());
}

TEST_F(SioServerTest, MiddlewareRefusalSendsConnectError) {
  io.of("/").use([](Socket&, std::function<void(std::optional<ConnectError>)> next) {
    next(ConnectError{"not authorized", json::object{{"code", 42}}});
  });
  auto& secret = io.of("/secret");
  secret.use([](Socket&, std::function<void(std::optional<ConnectError>)> next) {
    next(ConnectError{"go away", nullptr});
  });
  int connected = 0;
  io.of("/").on_connection([&](Socket&) { ++connected; });
  secret.on_connection([&](Socket&) { ++connected; });

  auto& connection = connect("0");
  EXPECT_EQ(connection.texts(), (std::vector<std::string>{R"(44{"message":"not authorized","data":{"code":42}})"}));
  connection.clear_sent();
  connection.receive("0/secret,");
  poll();
  EXPECT_EQ(connection.texts(), (std::vector<std::string>{R"(44/secret,{"message":"go away"})"}));
  EXPECT_EQ(connected, 0);
  EXPECT_EQ(io.of("/").local_socket_count(), 0U);
  EXPECT_EQ(connection.close_calls(), 0);

  // The client may try again: the refused namespace is not left half-connected.
  connection.clear_sent();
  connection.receive("0/secret,");
  poll();
  EXPECT_EQ(connection.texts(), (std::vector<std::string>{R"(44/secret,{"message":"go away"})"}));
  EXPECT_EQ(connection.close_calls(), 0);
}

TEST_F(SioServerTest, MiddlewaresRunInOrderAndMayAnswerLater) {
  std::vector<std::string> order;
  std::function<void(std::optional<ConnectError>)> pending;
  io.of("/").use([&](Socket& socket, std::function<void(std::optional<ConnectError>)> next) {
    order.push_back("first");
    socket.data()["role"] = "admin";
    next(std::nullopt);
  });
  io.of("/").use([&](Socket&, std::function<void(std::optional<ConnectError>)> next) {
    order.push_back("second");
    pending = std::move(next);
  });
  io.of("/").on_connection([&](Socket& socket) {
    order.push_back("connection:" + std::string(socket.data().at("role").as_string()));
  });
  auto& connection = connect("0");
  EXPECT_EQ(order, (std::vector<std::string>{"first", "second"}));
  EXPECT_TRUE(connection.sent().empty());
  ASSERT_TRUE(pending);
  pending(std::nullopt);
  EXPECT_EQ(order, (std::vector<std::string>{"first", "second", "connection:admin"}));
  ASSERT_EQ(connection.sent().size(), 1U);
  EXPECT_EQ(connection.texts()[0].rfind(R"(40{"sid":")", 0), 0U);
}

TEST_F(SioServerTest, InvalidNamespaceIsRefused) {
  auto& connection = connect("0/nope,");
  EXPECT_EQ(connection.texts(), (std::vector<std::string>{R"(44/nope,{"message":"Invalid namespace"})"}));
  EXPECT_EQ(connection.close_calls(), 0);
  // The main namespace still works on the same connection.
  connection.clear_sent();
  connection.receive("0");
  poll();
  ASSERT_EQ(connection.sent().size(), 1U);
  EXPECT_EQ(connection.texts()[0].rfind(R"(40{"sid":")", 0), 0U);
}

TEST_F(SioServerTest, DynamicNamespaceByRegex) {
  auto& parent = io.of(std::regex("^/dyn-[0-9]+$"));
  std::vector<std::string> refused_by_parent;
  parent.use([&](Socket& socket, std::function<void(std::optional<ConnectError>)> next) {
    if (socket.nsp().name() == "/dyn-13") {
      refused_by_parent.push_back(socket.nsp().name());
      next(ConnectError{"unlucky", nullptr});
      return;
    }
    next(std::nullopt);
  });
  std::vector<std::pair<std::string, Namespace*>> connected;
  parent.on_connection([&](Socket& socket) {
    connected.emplace_back(socket.nsp().name(), &socket.nsp());
    socket.emit("in", Payload{json::array{socket.nsp().name()}});
  });

  auto& first = connect("0/dyn-12,");
  ASSERT_EQ(first.sent().size(), 2U);
  EXPECT_EQ(first.texts()[0].rfind(R"(40/dyn-12,{"sid":")", 0), 0U);
  EXPECT_EQ(first.texts()[1], R"(42/dyn-12,["in","/dyn-12"])");
  ASSERT_EQ(connected.size(), 1U);
  EXPECT_EQ(connected[0].first, "/dyn-12");
  EXPECT_EQ(connected[0].second, &io.of("/dyn-12")) << "the child is a namespace of the server";

  auto& second = connect("0/dyn-12,");
  ASSERT_EQ(connected.size(), 2U);
  EXPECT_EQ(connected[1].second, connected[0].second) << "created once";
  EXPECT_EQ(io.of("/dyn-12").local_socket_count(), 2U);
  EXPECT_EQ(second.sent().size(), 2U);

  auto& mismatch = connect("0/dyn-x,");
  EXPECT_EQ(mismatch.texts(), (std::vector<std::string>{R"(44/dyn-x,{"message":"Invalid namespace"})"}));

  auto& unlucky = connect("0/dyn-13,");
  EXPECT_EQ(unlucky.texts(), (std::vector<std::string>{R"(44/dyn-13,{"message":"unlucky"})"}));
  EXPECT_EQ(refused_by_parent, (std::vector<std::string>{"/dyn-13"}));
  EXPECT_EQ(connected.size(), 2U);
}

// A server of its own: the fixture's keeps the default 45 s, so a slow machine cannot close
// the other tests' connections.
TEST_F(SioServerTest, ConnectTimeoutClosesAConnectionWithoutNamespace) {
  ServerOptions short_options = options();
  short_options.connect_timeout = 100ms;
  Server short_io(pool, short_options);
  auto open_on_short = [&] {
    auto connection = std::make_unique<MemoryConnection>(pool);
    connection->open(short_io.engine().connection_factory());
    return connection;
  };
  auto idle = open_on_short();
  auto refused = open_on_short();
  refused->receive("0/nope,");
  auto active = open_on_short();
  active->receive("0");
  poll();
  ASSERT_TRUE(run_until([&] { return idle->closed() && refused->closed(); }));
  EXPECT_EQ(idle->close_calls(), 1);
  EXPECT_EQ(idle->close_reason(), "forced close");
  EXPECT_EQ(refused->close_calls(), 1);
  EXPECT_EQ(active->close_calls(), 0);
  EXPECT_FALSE(active->closed());
}

// ---- events -------------------------------------------------------------------------------------

TEST_F(SioServerTest, PacketMiddlewareMayDropAnEvent) {
  std::vector<std::string> dispatched;
  std::vector<std::string> errors;
  io.of("/").on_connection([&](Socket& socket) {
    socket.use([](Socket&, Event& event, std::function<void(std::optional<std::string>)> next) {
      if (event.name == "blocked") {
        next("not allowed");
        return;
      }
      event.payload.args.emplace_back("seen");
      next(std::nullopt);
    });
    socket.on_any([&](Socket&, Event& event) { dispatched.push_back("any:" + event.name); });
    socket.on("blocked", [&](Socket&, Event&) { dispatched.push_back("blocked"); });
    socket.on("open", [&](Socket&, Event& event) {
      dispatched.push_back("open:" + json::serialize(event.payload.args));
    });
    socket.on_error([&](Socket&, std::string_view message) { errors.emplace_back(message); });
  });
  auto& connection = connect("0");
  connection.receive(R"(2["blocked",1])");
  connection.receive(R"(2["open",1])");
  poll();
  EXPECT_EQ(dispatched, (std::vector<std::string>{"any:open", R"(open:[1,"seen"])"}));
  EXPECT_EQ(errors, (std::vector<std::string>{"not allowed"}));
  EXPECT_EQ(connection.close_calls(), 0);
}

TEST_F(SioServerTest, OnAnyAndOnAnyOutgoing) {
  std::vector<std::string> incoming;
  std::vector<std::string> outgoing;
  io.of("/").on_connection([&](Socket& socket) {
    socket.on_any([&](Socket&, Event& event) {
      incoming.push_back(event.name + json::serialize(event.payload.args));
    });
    socket.on_any_outgoing([&](Socket&, std::string_view event, const Payload& payload) {
      outgoing.push_back(std::string(event) + json::serialize(payload.args));
    });
    socket.on("ping", [](Socket& s, Event&) { s.emit("pong", Payload{json::array{1}}); });
  });
  auto& connection = connect("0");
  connection.receive(R"(2["ping"])");
  connection.receive(R"(2["other",{"a":1},2])");
  poll();
  EXPECT_EQ(incoming, (std::vector<std::string>{"ping[]", R"(other[{"a":1},2])"}));
  EXPECT_EQ(outgoing, (std::vector<std::string>{"pong[1]"}));
  EXPECT_EQ(connection.last_text(), R"(42["pong",1])");
}

// A common pattern: handlers added once the client has logged in. As with Node's emitters,
// handlers added during a dispatch see the next events, not the current one.
TEST_F(SioServerTest, HandlersMayAddHandlersWhileDispatching) {
  int chats = 0;
  int any_after_login = 0;
  io.of("/").on_connection([&](Socket& socket) {
    socket.on("login", [&](Socket& s, Event&) {
      for (int i = 0; i < 64; ++i) {
        s.on("chat", [&](Socket&, Event&) { ++chats; });
        s.on("login", [&](Socket&, Event&) { ++chats; });
      }
      s.emit("welcome");
    });
    socket.on_any([&](Socket& s, Event& event) {
      if (event.name == "login") {
        for (int i = 0; i < 64; ++i) {
          s.on_any([&](Socket&, Event&) { ++any_after_login; });
        }
      }
    });
  });
  int outgoing_added = 0;
  io.of("/").on_connection([&](Socket& socket) {
    socket.on_any_outgoing([&](Socket& s, std::string_view, const Payload&) {
      for (int i = 0; i < 64; ++i) {
        s.on_any_outgoing([&](Socket&, std::string_view, const Payload&) { ++outgoing_added; });
      }
    });
  });
  auto& connection = connect("0");
  connection.receive(R"(2["login"])");
  EXPECT_EQ(chats, 0);
  EXPECT_EQ(any_after_login, 0);
  EXPECT_EQ(outgoing_added, 0);
  EXPECT_EQ(connection.last_text(), R"(42["welcome"])");
  connection.receive(R"(2["chat"])");
  EXPECT_EQ(chats, 64);
  EXPECT_EQ(any_after_login, 64);
  io.of("/").emit("again");
  poll();
  EXPECT_EQ(outgoing_added, 64);
  EXPECT_EQ(connection.last_text(), R"(42["again"])");
}

TEST_F(SioServerTest, OnAnyOutgoingSeesBroadcastsToTheSocket) {
  track(io.of("/"));
  std::vector<std::string> outgoing;
  io.of("/").on_connection([&](Socket& socket) {
    socket.on_any_outgoing([&](Socket& s, std::string_view event, const Payload& payload) {
      EXPECT_TRUE(s.connected());
      outgoing.push_back(std::string(event) + json::serialize(payload.args) + std::to_string(payload.attachments.size()));
    });
  });
  connect("0");
  connect("0");
  sockets[0]->join("room");

  io.of("/").to("room").emit("news", Payload{json::array{1}});
  poll();
  EXPECT_EQ(outgoing, (std::vector<std::string>{"news[1]0"}));
  outgoing.clear();

  Payload binary;
  binary.args.push_back(binary.attach("bytes"));
  io.of("/").emit("all", std::move(binary));
  poll();
  EXPECT_EQ(outgoing, (std::vector<std::string>{R"(all[{"_placeholder":true,"num":0}]1)",
                                                R"(all[{"_placeholder":true,"num":0}]1)"}));
  outgoing.clear();

  io.of("/").to("room").timeout(1s).emit_with_ack("poll", Payload{json::array{"?"}},
                                                 [](std::optional<std::string>, std::vector<Payload>) {});
  poll();
  EXPECT_EQ(outgoing, (std::vector<std::string>{R"(poll["?"]0)"}));
}

// Outgoing hooks run user code in the middle of a broadcast: it may change the very room index
// the broadcast walks.
TEST_F(SioServerTest, OutgoingHookMayLeaveOrDisconnectDuringABroadcast) {
  track(io.of("/"));
  constexpr std::size_t kCount = 200;
  io.of("/").on_connection([](Socket& socket) {
    socket.on_any_outgoing([](Socket& s, std::string_view event, const Payload&) {
      if (event == "leave") {
        s.leave("room");
      } else if (event == "bye") {
        s.disconnect();
      }
    });
  });
  for (std::size_t i = 0; i < kCount; ++i) {
    connect("0");
  }
  io.of("/").selection().sockets_join({"room"});
  poll();
  clear_all_sent();

  io.of("/").to("room").emit("leave");
  poll();
  std::size_t reached = 0;
  for (const auto& connection : connections) {
    reached += connection->texts() == std::vector<std::string>{R"(42["leave"])"} ? 1 : 0;
  }
  EXPECT_EQ(reached, kCount);
  for (const auto& socket : sockets) {
    EXPECT_FALSE(socket->in_room("room"));
  }
  clear_all_sent();

  io.of("/").emit("bye");
  poll();
  reached = 0;
  for (const auto& connection : connections) {
    // The hook ran first and took the socket out: nothing follows its DISCONNECT.
    reached += connection->texts() == std::vector<std::string>{"41"} ? 1 : 0;
  }
  EXPECT_EQ(reached, kCount);
  EXPECT_EQ(io.of("/").local_socket_count(), 0U);
}

// ---- leaving ------------------------------------------------------------------------------------

TEST_F(SioServerTest, ClientNamespaceDisconnect) {
  track(io.of("/"));
  track(io.of("/admin"));
  auto& connection = connect("0");
  connection.receive("0/admin,");
  poll();
  ASSERT_EQ(sockets.size(), 2U);
  sockets[0]->join("room");
  std::vector<std::string> disconnecting;
  sockets[0]->on_disconnecting([&](Socket& s, std::string_view reason) {
    disconnecting.push_back(std::string(reason) + (s.in_room("room") ? " in room" : " not in room"));
  });

  connection.receive("1");
  poll();
  EXPECT_FALSE(sockets[0]->connected());
  EXPECT_TRUE(sockets[1]->connected());
  EXPECT_EQ(disconnecting, (std::vector<std::string>{"client namespace disconnect in room"}));
  EXPECT_EQ(reasons_of(*sockets[0]), (std::vector<std::string>{"client namespace disconnect"}));
  EXPECT_TRUE(sockets[0]->rooms().empty());
  EXPECT_EQ(io.of("/").local_socket_count(), 0U);
  EXPECT_EQ(connection.close_calls(), 0);

  connection.clear_sent();
  io.of("/").to("room").emit("x");
  poll();
  EXPECT_TRUE(connection.sent().empty());

  connection.receive("1/admin,");
  poll();
  EXPECT_EQ(reasons_of(*sockets[1]), (std::vector<std::string>{"client namespace disconnect"}));
  EXPECT_EQ(connection.close_calls(), 0);
}

TEST_F(SioServerTest, ServerNamespaceDisconnect) {
  track(io.of("/"));
  track(io.of("/admin"));
  auto& connection = connect("0");
  connection.receive("0/admin,");
  poll();
  ASSERT_EQ(sockets.size(), 2U);
  connection.clear_sent();

  sockets[1]->disconnect();
  EXPECT_EQ(connection.texts(), (std::vector<std::string>{"41/admin,"}));
  EXPECT_EQ(reasons_of(*sockets[1]), (std::vector<std::string>{"server namespace disconnect"}));
  EXPECT_TRUE(sockets[0]->connected());
  EXPECT_EQ(connection.close_calls(), 0);

  // Sends after leaving are ignored.
  connection.clear_sent();
  sockets[1]->emit("late");
  EXPECT_TRUE(connection.sent().empty());

  // The client may come back to the namespace it was sent out of.
  connection.receive("0/admin,");
  poll();
  ASSERT_EQ(sockets.size(), 3U);
  EXPECT_TRUE(sockets[2]->connected());
}

TEST_F(SioServerTest, DisconnectWithCloseLeavesEveryNamespaceThenClosesTheConnection) {
  track(io.of("/"));
  track(io.of("/admin"));
  auto& connection = connect("0");
  connection.receive("0/admin,");
  poll();
  ASSERT_EQ(sockets.size(), 2U);
  connection.clear_sent();

  sockets[0]->disconnect(true);
  poll();
  EXPECT_EQ(connection.close_calls(), 1);
  EXPECT_TRUE(connection.closed());
  const auto texts = connection.texts();
  EXPECT_EQ(std::multiset<std::string>(texts.begin(), texts.end()), (std::multiset<std::string>{"41", "41/admin,"}));
  EXPECT_EQ(reasons_of(*sockets[0]), (std::vector<std::string>{"server namespace disconnect"}));
  EXPECT_EQ(reasons_of(*sockets[1]), (std::vector<std::string>{"server namespace disconnect"}));
}

TEST_F(SioServerTest, TransportCloseDisconnectsEveryNamespace) {
  track(io.of("/"));
  track(io.of("/admin"));
  auto& connection = connect("0");
  connection.receive("0/admin,");
  poll();
  connection.drop("transport close");
  EXPECT_EQ(reasons_of(*sockets[0]), (std::vector<std::string>{"transport close"}));
  EXPECT_EQ(reasons_of(*sockets[1]), (std::vector<std::string>{"transport close"}));
  EXPECT_EQ(io.of("/").local_socket_count(), 0U);
  EXPECT_EQ(io.of("/admin").local_socket_count(), 0U);
}

TEST_F(SioServerTest, MalformedPacketClosesTheConnection) {
  track(io.of("/"));
  for (std::string_view bad : {R"(2["unterminated")", "9", R"(2["connect"])", "2{}", "", "42[\"x\"]", R"(3["x"])"}) {
    SCOPED_TRACE(std::string(bad));
    auto& connection = connect("0");
    const std::size_t index = sockets.size() - 1;
    ASSERT_TRUE(sockets[index]->connected());
    connection.receive(bad);
    EXPECT_EQ(connection.close_calls(), bad == R"(3["x"])" ? 0 : 1);
    poll();
    if (bad == R"(3["x"])") {
      // An ack for nothing pending is ignored, as the reference does.
      EXPECT_TRUE(sockets[index]->connected());
      continue;
    }
    EXPECT_TRUE(connection.closed());
    EXPECT_FALSE(sockets[index]->connected());
    // As socket.io's Client.onerror: the engine closes, the sockets see "forced close".
    EXPECT_EQ(reasons_of(*sockets[index]), (std::vector<std::string>{"forced close"}));
  }
}

TEST_F(SioServerTest, PacketForANamespaceNotJoinedClosesTheConnection) {
  auto& connection = connect("0");
  connection.receive(R"(2/admin,["x"])");
  EXPECT_EQ(connection.close_calls(), 1);
  poll();
  EXPECT_TRUE(connection.closed());
}

}  // namespace
}  // namespace iogate::sio
