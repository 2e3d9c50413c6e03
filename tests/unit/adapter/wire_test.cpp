#include "adapter/redis/wire.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace iogate::adapter::redis {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

sio::Packet event(std::string_view data_json, std::vector<std::string> attachments = {},
                  std::string nsp = "/") {
  sio::Packet packet;
  packet.nsp = std::move(nsp);
  packet.data = json::parse(data_json);
  packet.attachments = std::move(attachments);
  return packet;
}

// redis-adapter-classic.txt, server2: io.emit("hello", "world", Buffer<01 02 03>)
constexpr std::string_view kHelloHex =
    "93a64b4d442d425683a47479706502a46461746193a568656c6c6fa5776f726c64c403010203a36e7370a12f83a572"
    "6f6f6d7390a665786365707490a5666c61677380";
// io.to("room1").emit("to-room", 42, 1.5)
constexpr std::string_view kToRoomHex =
    "93a64b4d442d425683a47479706502a46461746193a7746f2d726f6f6d2acb3ff8000000000000a36e7370a12f83a5"
    "726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380";
// io.to(["room1","room9"]).except(B.id).volatile.compress(false).emit("multi", {a:null})
constexpr std::string_view kMultiHex =
    "93a64b4d442d425683a47479706502a46461746192a56d756c746981a161c0a36e7370a12f83a5726f6f6d7392a572"
    "6f6f6d31a5726f6f6d39a665786365707491b463756f476d686b782d71696a6534556441414142a5666c61677382a8"
    "766f6c6174696c65c3a8636f6d7072657373c2";
// io.of("/custom").emit("in-custom")
constexpr std::string_view kCustomHex =
    "93a66952796a687683a47479706502a46461746191a9696e2d637573746f6da36e7370a72f637573746f6d83a5726f"
    "6f6d7390a665786365707490a5666c61677380";
// emitter: emit("from-emitter", Buffer<ff>) — keys rooms, flags, except
constexpr std::string_view kEmitterBinaryHex =
    "93a7656d697474657283a47479706502a46461746192ac66726f6d2d656d6974746572c401ffa36e7370a12f83a572"
    "6f6f6d7390a5666c61677380a665786365707490";
// emitter: except("room2").volatile.emit("emitter-except")
constexpr std::string_view kEmitterExceptHex =
    "93a7656d697474657283a47479706502a46461746191ae656d69747465722d657863657074a36e7370a12f83a5726f"
    "6f6d7390a5666c61677381a8766f6c6174696c65c3a665786365707491a5726f6f6d32";

TEST(EncodeBroadcast, CapturedBinaryEmitByteForByte) {
  const auto packet = event(R"(["hello","world",{"_placeholder":true,"num":0}])", {"\x01\x02\x03"});
  EXPECT_EQ(encode_broadcast("KMD-BV", packet, {}), from_hex(kHelloHex));
}

TEST(EncodeBroadcast, SameBytesWithTheDocumentedUid) {
  // protocol.md §4.2 shows the same emit published by an adapter with uid "aYJ_g1".
  const auto packet = event(R"(["hello","world",{"_placeholder":true,"num":0}])", {"\x01\x02\x03"});
  std::string expected = from_hex(kHelloHex);
  expected.replace(2, 6, "aYJ_g1");
  EXPECT_EQ(encode_broadcast("aYJ_g1", packet, {}), expected);
}

TEST(EncodeBroadcast, CapturedRoomIntegerAndDouble) {
  sio::BroadcastOptions options;
  options.rooms = {"room1"};
  EXPECT_EQ(encode_broadcast("KMD-BV", event(R"(["to-room",42,1.5])"), options),
            from_hex(kToRoomHex));
}

TEST(EncodeBroadcast, CapturedFlagsVolatileCompressFalse) {
  sio::BroadcastOptions options;
  options.rooms = {"room1", "room9"};
  options.except = {"cuoGmhkx-qije4UdAAAB"};
  options.flags.is_volatile = true;
  options.flags.compress = false;
  EXPECT_EQ(encode_broadcast("KMD-BV", event(R"(["multi",{"a":null}])"), options),
            from_hex(kMultiHex));
}

TEST(EncodeBroadcast, CapturedNamespace) {
  EXPECT_EQ(encode_broadcast("iRyjhv", event(R"(["in-custom"])", {}, "/custom"), {}),
            from_hex(kCustomHex));
}

TEST(EncodeBroadcast, TimeoutAndIntegerForms) {
  sio::BroadcastOptions options;
  options.flags.timeout = 1500ms;
  const std::string bytes =
      encode_broadcast("u", event(R"(["e",-1,-33,200,70000,-40000,5000000000,true,"é"])"), options);
  // ... 93 a1"u" ... data: 99 a1"e" ff d0df cc c8 ce00011170 d2ffff63c0 cf000000012a05f200 c3
  // a2c3a9
  EXPECT_NE(bytes.find(from_hex("99a165ffd0dfccc8ce00011170d2ffff63c0cf000000012a05f200c3a2c3a9")),
            std::string::npos);
  EXPECT_TRUE(bytes.ends_with(from_hex("a5666c61677381a774696d656f7574cd05dc")));
}

TEST(DecodeBroadcast, CapturedBinaryEmit) {
  const auto message = decode_broadcast(from_hex(kHelloHex));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->uid, "KMD-BV");
  EXPECT_EQ(message->packet.type, sio::PacketType::event);
  EXPECT_EQ(message->packet.nsp, "/");
  EXPECT_FALSE(message->packet.id);
  EXPECT_EQ(message->packet.data,
            json::parse(R"(["hello","world",{"_placeholder":true,"num":0}])"));
  EXPECT_EQ(message->packet.attachments, std::vector<std::string>{"\x01\x02\x03"});
  EXPECT_EQ(sio::encode_packet(message->packet),
            R"(51-["hello","world",{"_placeholder":true,"num":0}])");
  EXPECT_TRUE(message->options.rooms.empty());
  EXPECT_TRUE(message->options.except.empty());
  EXPECT_FALSE(message->options.flags.is_volatile);
  EXPECT_TRUE(message->options.flags.compress);
  EXPECT_FALSE(message->options.flags.timeout);
}

TEST(DecodeBroadcast, CapturedRoomAndNumbers) {
  const auto message = decode_broadcast(from_hex(kToRoomHex));
  ASSERT_TRUE(message);
  EXPECT_EQ(json::serialize(message->packet.data), R"(["to-room",42,1.5E0])");
  EXPECT_EQ(message->options.rooms, std::vector<std::string>{"room1"});
}

TEST(DecodeBroadcast, CapturedExceptAndFlags) {
  const auto message = decode_broadcast(from_hex(kMultiHex));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->packet.data, json::parse(R"(["multi",{"a":null}])"));
  EXPECT_EQ(message->options.rooms, (std::vector<std::string>{"room1", "room9"}));
  EXPECT_EQ(message->options.except, std::vector<std::string>{"cuoGmhkx-qije4UdAAAB"});
  EXPECT_TRUE(message->options.flags.is_volatile);
  EXPECT_FALSE(message->options.flags.compress);
  EXPECT_FALSE(message->options.flags.local);
}

TEST(DecodeBroadcast, CapturedNamespace) {
  const auto message = decode_broadcast(from_hex(kCustomHex));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->uid, "iRyjhv");
  EXPECT_EQ(message->packet.nsp, "/custom");
}

TEST(DecodeBroadcast, CapturedTimeoutFlag) {
  // The opts of the captured broadcast-with-acks request:
  // {"rooms":[],"except":[],"flags":{"timeout":1500}}
  const std::string bytes =
      from_hex(
          "93a1758"
          "3a47479706502a46461746191a165a36e7370a12f") +
      from_hex("83a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd05dc");
  const auto message = decode_broadcast(bytes);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->options.flags.timeout, 1500ms);
}

// [uid "u", {type 2, data ["d", <timestamp>], nsp "/"}, {}] around a msgpack timestamp.
std::optional<BroadcastMessage> decode_with_timestamp(std::string_view timestamp_hex) {
  return decode_broadcast(from_hex("93a17583a47479706502a46461746192a164" + std::string(timestamp_hex) + "a36e7370a12f80"));
}

TEST(DecodeBroadcast, DatesFromNodeBecomeIsoStringsAsJsonStringifyWrites) {
  const auto epoch = decode_with_timestamp("d6ff00000000");
  ASSERT_TRUE(epoch);
  EXPECT_EQ(json::serialize(epoch->packet.data), R"(["d","1970-01-01T00:00:00.000Z"])");
  // 64-bit form: 500,000,000 ns in the upper 30 bits, 1 s in the lower 34.
  const auto half = decode_with_timestamp("d7ff7735940000000001");
  ASSERT_TRUE(half);
  EXPECT_EQ(json::serialize(half->packet.data), R"(["d","1970-01-01T00:00:01.500Z"])");
  // 96-bit form with negative seconds.
  const auto before = decode_with_timestamp("c70cff00000000ffffffffffffffff");
  ASSERT_TRUE(before);
  EXPECT_EQ(json::serialize(before->packet.data), R"(["d","1969-12-31T23:59:59.000Z"])");
}

TEST(DecodeBroadcast, RejectsOtherExtensionsAndBadTimestamps) {
  EXPECT_FALSE(decode_with_timestamp("d40100"));                        // ext type 1
  EXPECT_FALSE(decode_with_timestamp("d7ffffffffff00000000"));          // nanoseconds >= 1e9
  EXPECT_FALSE(decode_with_timestamp("c70cff000000007fffffffffffffff"));  // beyond year 9999
}

TEST(DecodeBroadcast, EmitterKeyOrder) {
  auto message = decode_broadcast(from_hex(kEmitterBinaryHex));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->uid, "emitter");
  EXPECT_EQ(message->packet.attachments, std::vector<std::string>{"\xff"});
  EXPECT_EQ(sio::encode_packet(message->packet),
            R"(51-["from-emitter",{"_placeholder":true,"num":0}])");

  message = decode_broadcast(from_hex(kEmitterExceptHex));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->options.except, std::vector<std::string>{"room2"});
  EXPECT_TRUE(message->options.flags.is_volatile);
  EXPECT_TRUE(message->options.flags.compress);
}

TEST(DecodeBroadcast, MissingNspExceptAndFlags) {
  // ["x", {"type":2,"data":["e"]}, {"rooms":[1, "r"]}]
  const auto message =
      decode_broadcast(from_hex("93a17882a47479706502a46461746191a16581a5726f6f6d739201a172"));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->packet.nsp, "/");
  EXPECT_EQ(message->options.rooms, (std::vector<std::string>{"1", "r"}));
  EXPECT_TRUE(message->options.except.empty());
  EXPECT_TRUE(message->options.flags.compress);
}

TEST(DecodeBroadcast, Float32AndNegativeIntegers) {
  // data ["e", float32 0.5, int8 -100, int64 -5000000000, nil]
  const auto message = decode_broadcast(
      from_hex("93a17882a47479706502a46461746195a165ca3f000000d09cd3fffffffed5fa0e00c080"));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->packet.data, json::parse(R"(["e",0.5,-100,-5000000000,null])"));
}

TEST(RoundTrip, NestedBinaryKeepsDepthFirstOrder) {
  const auto packet =
      event(R"(["up",{"a":{"_placeholder":true,"num":0},"b":[1,{"_placeholder":true,"num":1}]},)"
            R"({"_placeholder":true,"num":2},[[{"deep":{"_placeholder":true,"num":3}}]]])",
            {"first", std::string("\0\1", 2), "", std::string(300, 'x')}, "/chat");
  sio::BroadcastOptions options;
  options.rooms = {"r1"};
  options.except = {"s1", "s2"};
  options.flags.is_volatile = true;
  options.flags.compress = false;
  options.flags.local = true;
  options.flags.timeout = 250ms;
  const std::string bytes = encode_broadcast("abcdef", packet, options);
  const auto message = decode_broadcast(bytes);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->uid, "abcdef");
  EXPECT_EQ(message->packet.nsp, "/chat");
  EXPECT_EQ(message->packet.data, packet.data);
  EXPECT_EQ(message->packet.attachments, packet.attachments);
  EXPECT_EQ(message->options.rooms, options.rooms);
  EXPECT_EQ(message->options.except, options.except);
  EXPECT_TRUE(message->options.flags.is_volatile);
  EXPECT_FALSE(message->options.flags.compress);
  EXPECT_TRUE(message->options.flags.local);
  EXPECT_EQ(message->options.flags.timeout, 250ms);
  EXPECT_EQ(encode_broadcast(message->uid, message->packet, message->options), bytes);
}

TEST(RoundTrip, PlaceholdersOutOfOrderComeBackRenumbered) {
  const auto packet = event(R"(["e",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}])",
                            {"zero", "one"});
  const auto message = decode_broadcast(encode_broadcast("u", packet, {}));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->packet.attachments, (std::vector<std::string>{"one", "zero"}));
  EXPECT_EQ(message->packet.data,
            json::parse(R"(["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])"));
}

TEST(DecodeBroadcast, MalformedInputs) {
  const std::string good = from_hex(kHelloHex);
  EXPECT_FALSE(decode_broadcast(""));
  for (std::size_t size = 0; size < good.size(); ++size) {
    EXPECT_FALSE(decode_broadcast(good.substr(0, size))) << "truncated at " << size;
  }
  EXPECT_FALSE(decode_broadcast(good + '\xc0')) << "trailing bytes";
  EXPECT_FALSE(decode_broadcast(from_hex("c0")));        // nil
  EXPECT_FALSE(decode_broadcast(from_hex("81a178c0")));  // map
  EXPECT_FALSE(decode_broadcast(from_hex("a3616263")));  // string
  EXPECT_FALSE(decode_broadcast(from_hex("7b7d")));      // JSON "{}"
  // 4-element array: the valid message plus one nil.
  std::string four = good;
  four[0] = '\x94';
  EXPECT_FALSE(decode_broadcast(four + '\xc0'));
  // ext type (fixext1 type 1) in data
  EXPECT_FALSE(
      decode_broadcast(from_hex("93a17883a47479706502a46461746192a165d40100a36e7370a12f80")));
  // timestamp ext (type -1) as a Date is sent: carried as its ISO string, as Node peers do
  const auto dated = decode_broadcast(from_hex("93a17882a47479706502a46461746192a165d6ff0000000180"));
  ASSERT_TRUE(dated);
  EXPECT_EQ(json::serialize(dated->packet.data), R"(["e","1970-01-01T00:00:01.000Z"])");
  // Huge length prefixes: array32 / map32 / str32 / bin32 claiming 4 GiB.
  EXPECT_FALSE(decode_broadcast(from_hex("ddffffffff")));
  EXPECT_FALSE(decode_broadcast(from_hex("dd80000000")));
  EXPECT_FALSE(decode_broadcast(from_hex("93a178dfffffffff")));
  EXPECT_FALSE(decode_broadcast(from_hex("93dbffffffff61")));
  EXPECT_FALSE(decode_broadcast(from_hex("93a17882a47479706502a46461746192a165c6ffffffff0080")));
  EXPECT_FALSE(decode_broadcast(from_hex("93a17882a47479706502a46461746192a165ddffffffff80")));
}

TEST(DecodeBroadcast, WrongShapesAreRefused) {
  // uid not a string
  EXPECT_FALSE(
      decode_broadcast(from_hex("9301"
                                "82a47479706502a46461746191a16580")));
  // type 3 (ack)
  EXPECT_FALSE(decode_broadcast(from_hex("93a17882a47479706503a46461746191a16580")));
  // no type
  EXPECT_FALSE(decode_broadcast(from_hex("93a17881a46461746191a16580")));
  // data not an array / empty / name not a string
  EXPECT_FALSE(decode_broadcast(from_hex("93a17882a47479706502a4646174610180")));
  EXPECT_FALSE(
      decode_broadcast(from_hex("93a17882a47479706502a46461746190"
                                "80")));
  EXPECT_FALSE(decode_broadcast(from_hex("93a17882a47479706502a464617461910180")));
  // rooms holding a map; flags a list; volatile a string; negative timeout
  EXPECT_FALSE(
      decode_broadcast(from_hex("93a17882a47479706502a46461746191a16581a5726f6f6d739180")));
  EXPECT_FALSE(decode_broadcast(from_hex("93a17882a47479706502a46461746191a16581a5666c61677390")));
  EXPECT_FALSE(decode_broadcast(
      from_hex("93a17882a47479706502a46461746191a16581a5666c61677381a8766f6c6174696c65a178")));
  EXPECT_FALSE(decode_broadcast(
      from_hex("93a17882a47479706502a46461746191a16581a5666c61677381a774696d656f7574ff")));
  // a map that would pass for a placeholder
  EXPECT_FALSE(decode_broadcast(
      from_hex("93a17882a47479706502a46461746192a16582ac5f706c616365686f6c646572c3a36e756d0080")));
  // map key not a string
  EXPECT_FALSE(
      decode_broadcast(from_hex("93a17882a47479706502a46461746192a165810101"
                                "80")));
  // invalid UTF-8 in a string
  EXPECT_FALSE(decode_broadcast(from_hex("93a17882a47479706502a46461746191a1ff80")));
}

TEST(DecodeBroadcast, DepthIsBounded) {
  std::string nested = from_hex("93a17882a47479706502a46461746192a165");
  for (int i = 0; i < 100000; ++i) {
    nested += '\x91';
  }
  nested += '\xc0';
  nested += '\x80';
  EXPECT_FALSE(decode_broadcast(nested));
}

TEST(Channels, Names) {
  EXPECT_EQ(broadcast_channel("socket.io", "/"), "socket.io#/#");
  EXPECT_EQ(room_channel("socket.io", "/", "room1"), "socket.io#/#room1#");
  EXPECT_EQ(request_channel("socket.io", "/custom"), "socket.io-request#/custom#");
  EXPECT_EQ(response_channel("socket.io", "/"), "socket.io-response#/#");
  EXPECT_EQ(specific_response_channel("socket.io", "/", "cR7mpV"), "socket.io-response#/#cR7mpV#");
}

TEST(Channels, RoomOfChannel) {
  EXPECT_EQ(room_of_channel("socket.io", "/", "socket.io#/#"), "");
  EXPECT_EQ(room_of_channel("socket.io", "/", "socket.io#/#room1#"), "room1");
  EXPECT_EQ(room_of_channel("socket.io", "/", "socket.io#/#z_HKDFGz1cbSrQ0jAAAA#"),
            "z_HKDFGz1cbSrQ0jAAAA");
  EXPECT_EQ(room_of_channel("socket.io", "/", "socket.io#/#a#b#"), "a#b");
  EXPECT_EQ(room_of_channel("socket.io", "/", "socket.io#/custom#"), std::nullopt);
  EXPECT_EQ(room_of_channel("socket.io", "/custom", "socket.io#/#"), std::nullopt);
  EXPECT_EQ(room_of_channel("socket.io", "/", "socket.io#/#room1"), std::nullopt);
  EXPECT_EQ(room_of_channel("socket.io", "/", "other#/#"), std::nullopt);
  EXPECT_EQ(room_of_channel("socket.io", "/", "socket.io-request#/#"), std::nullopt);
}

}  // namespace

// Requests and responses as the cluster builds them (objects in Node's key order), against the
// captured bytes of redis-adapter-classic.txt and redis-adapter-sharded.txt.
TEST(Msgpack, CapturedBroadcastWithAckRequest) {
  const auto packet = event(R"(["ask-client","hi"])");
  sio::BroadcastOptions options;
  options.flags.timeout = 1500ms;
  json::object request{{"uid", "KMD-BV"},
                       {"requestId", "4J1bUB"},
                       {"type", 7},
                       {"packet", json::object{{"type", 2}, {"data", packet.data}, {"nsp", "/"}}},
                       {"opts", options_to_json(options, true)}};
  EXPECT_EQ(encode_msgpack(request),
            from_hex("85a3756964a64b4d442d4256a9726571756573744964a6344a31625542a47479706507a67061636b657483a4747970"
                     "6502a46461746192aa61736b2d636c69656e74a26869a36e7370a12fa46f70747383a5726f6f6d7390a66578636570"
                     "7490a5666c61677381a774696d656f7574cd05dc"));
}

TEST(Msgpack, CapturedBroadcastAckResponse) {
  json::object response{{"type", 9}, {"requestId", "4J1bUB"}, {"packet", "A says hi"}};
  EXPECT_EQ(encode_msgpack(response),
            from_hex("83a47479706509a9726571756573744964a6344a31625542a67061636b6574a9412073617973206869"));
}

TEST(Msgpack, CapturedShardedBroadcastWithBinary) {
  const std::string bytes = from_hex(
      "84a47479706503a46461746182a67061636b657482a47479706502a46461746193a568656c6c6fa5776f726c64c403010203a46f"
      "70747383a5726f6f6d7390a665786365707490a5666c61677380a3756964b063613961303639353633396565366332a36e7370a12f");
  auto document = decode_msgpack(bytes);
  ASSERT_TRUE(document);
  ASSERT_EQ(document->attachments, std::vector<std::string>{std::string("\x01\x02\x03", 3)});
  const auto& data = document->value.at("data");
  EXPECT_EQ(json::serialize(data.at("packet").at("data")), R"(["hello","world",{"_placeholder":true,"num":0}])");
  auto options = options_from_json(data.at("opts"));
  ASSERT_TRUE(options);
  EXPECT_TRUE(options->rooms.empty());
  EXPECT_EQ(encode_msgpack(document->value, document->attachments), bytes);
}

TEST(Message, JsonOrMsgpackByFirstByte) {
  auto json_message = decode_message(R"({"uid":"KMD-BV","requestId":"tDPlIZ","type":5,"opts":{"rooms":[],"except":[]}})");
  ASSERT_TRUE(json_message);
  EXPECT_EQ(json_message->value.at("type").as_int64(), 5);
  auto msgpack_message = decode_message(from_hex("83a47479706509a9726571756573744964a6344a31625542a67061636b6574a9412073617973206869"));
  ASSERT_TRUE(msgpack_message);
  EXPECT_EQ(msgpack_message->value.at("packet").as_string(), "A says hi");
  EXPECT_FALSE(decode_message("{not json"));
  EXPECT_FALSE(decode_message(""));
  EXPECT_FALSE(decode_message("\xc1"));
}

TEST(OptionsJson, NodeFormsAndBadShapes) {
  auto options = options_from_json(json::parse(
      R"({"rooms":["a",7],"except":["b"],"flags":{"volatile":true,"compress":false,"timeout":1500.0}})"));
  ASSERT_TRUE(options);
  EXPECT_EQ(options->rooms, (std::vector<std::string>{"a", "7"}));
  EXPECT_EQ(options->except, std::vector<std::string>{"b"});
  EXPECT_TRUE(options->flags.is_volatile);
  EXPECT_FALSE(options->flags.compress);
  EXPECT_EQ(options->flags.timeout, 1500ms);
  EXPECT_EQ(json::serialize(options_to_json(*options, false)), R"({"rooms":["a","7"],"except":["b"]})");
  EXPECT_FALSE(options_from_json(json::parse(R"({"rooms":"a"})")));
  EXPECT_FALSE(options_from_json(json::parse(R"({"rooms":[{}]})")));
  EXPECT_FALSE(options_from_json(json::parse(R"({"flags":{"volatile":1}})")));
  EXPECT_FALSE(options_from_json(json::parse(R"({"flags":{"timeout":-1}})")));
  EXPECT_FALSE(options_from_json(json::parse(R"([])")));
}

TEST(SocketJson, FetchSocketsShape) {
  auto socket = socket_from_json(json::parse(
      R"({"id":"z_HK","handshake":{"address":"127.0.0.1","auth":{}},"rooms":["z_HK","room1"],"data":{"user":7}})"));
  ASSERT_TRUE(socket);
  EXPECT_EQ(socket->id, "z_HK");
  EXPECT_EQ(socket->rooms, (std::vector<std::string>{"z_HK", "room1"}));
  EXPECT_EQ(socket->data.at("user").as_int64(), 7);
  EXPECT_EQ(json::serialize(socket_to_json(*socket)),
            R"({"id":"z_HK","handshake":{"address":"127.0.0.1","auth":{}},"rooms":["z_HK","room1"],"data":{"user":7}})");
  EXPECT_FALSE(socket_from_json(json::parse(R"({"rooms":[]})")));
  // Node's socket.data may be any value; only objects are kept.
  EXPECT_TRUE(socket_from_json(json::parse(R"({"id":"x","data":5})"))->data.empty());
}

}  // namespace iogate::adapter::redis
