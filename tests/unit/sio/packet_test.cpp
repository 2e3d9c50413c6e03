#include "sio/proto/packet.h"

#include <gtest/gtest.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace iogate::sio {
namespace {

boost::json::value json(std::string_view text) { return boost::json::parse(text); }

struct Decoded {
  Decoder::Status status;
  DecodeError error;
  Packet packet;
};

Decoded decode(std::string_view text, const std::vector<std::string>& binaries = {},
               ProtocolVersion version = ProtocolVersion::v5) {
  Decoder decoder(version);
  Decoder::Status status = decoder.feed_text(text);
  for (const std::string& binary : binaries) {
    status = decoder.feed_binary(binary);
  }
  return {status, decoder.error(),
          status == Decoder::Status::packet_ready ? decoder.take() : Packet{}};
}

Decoded decode_v4(std::string_view text) { return decode(text, {}, ProtocolVersion::v4); }

DecodeError decode_error(std::string_view text, const std::vector<std::string>& binaries = {}) {
  const Decoded decoded = decode(text, binaries);
  EXPECT_EQ(decoded.status, Decoder::Status::failed) << text;
  return decoded.error;
}

struct Example {
  std::string_view text;
  PacketType type;
  std::string_view nsp;
  std::optional<std::uint64_t> id;
  std::string_view data;  // JSON, empty when there is no payload
  std::vector<std::string> attachments;
};

// protocol.md §3.2 / §3.3.
const std::vector<Example>& spec_examples() {
  static const std::vector<Example> examples{
      {"0", PacketType::connect, "/", std::nullopt, "", {}},
      {R"(0/admin,{"token":"1"})", PacketType::connect, "/admin", std::nullopt,
       R"({"token":"1"})", {}},
      {R"(2["foo",1])", PacketType::event, "/", std::nullopt, R"(["foo",1])", {}},
      {R"(2/admin,12["bar"])", PacketType::event, "/admin", 12, R"(["bar"])", {}},
      {R"(3/admin,13["ok"])", PacketType::ack, "/admin", 13, R"(["ok"])", {}},
      {"1/admin,", PacketType::disconnect, "/admin", std::nullopt, "", {}},
      {R"(4{"message":"Not authorized"})", PacketType::connect_error, "/", std::nullopt,
       R"({"message":"Not authorized"})", {}},
      {R"(51-["baz",{"_placeholder":true,"num":0}])", PacketType::binary_event, "/", std::nullopt,
       R"(["baz",{"_placeholder":true,"num":0}])", {"\x01\x02\x03"}},
      {R"(61-15[{"_placeholder":true,"num":0}])", PacketType::binary_ack, "/", 15,
       R"([{"_placeholder":true,"num":0}])", {std::string("\x00\xff", 2)}},
      {R"(52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])",
       PacketType::binary_event, "/", std::nullopt,
       R"(["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])",
       {"\x01\x02\x03", "\x04\x05\x06"}},
      {R"(62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])",
       PacketType::binary_ack, "/", 789,
       R"([{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", {"a", "b"}},
      {R"(4"Not authorized")", PacketType::connect_error, "/", std::nullopt,
       R"("Not authorized")", {}},
      {R"(4/nsp,"msg")", PacketType::connect_error, "/nsp", std::nullopt, R"("msg")", {}},
  };
  return examples;
}

TEST(SioPacket, DecodesSpecExamples) {
  for (const Example& example : spec_examples()) {
    Decoder decoder(ProtocolVersion::v5);
    Decoder::Status status = decoder.feed_text(example.text);
    for (const std::string& attachment : example.attachments) {
      ASSERT_EQ(status, Decoder::Status::need_attachments) << example.text;
      status = decoder.feed_binary(attachment);
    }
    ASSERT_EQ(status, Decoder::Status::packet_ready) << example.text << ": "
                                                      << to_string(decoder.error());
    const Packet packet = decoder.take();
    EXPECT_EQ(packet.type, example.type) << example.text;
    EXPECT_EQ(packet.nsp, example.nsp) << example.text;
    EXPECT_EQ(packet.id, example.id) << example.text;
    if (example.data.empty()) {
      EXPECT_TRUE(packet.data.is_null()) << example.text;
    } else {
      EXPECT_EQ(packet.data, json(example.data)) << example.text;
    }
    EXPECT_EQ(packet.attachments, example.attachments) << example.text;
  }
}

TEST(SioPacket, EncodesSpecExamplesBackToTheSameText) {
  for (const Example& example : spec_examples()) {
    Packet packet;
    packet.type = example.type;
    packet.nsp = example.nsp;
    packet.id = example.id;
    if (!example.data.empty()) {
      packet.data = json(example.data);
    }
    packet.attachments = example.attachments;
    EXPECT_EQ(encode_packet(packet), example.text);
  }
}

TEST(SioPacket, NamespaceWithOrWithoutTrailingComma) {
  for (std::string_view text : {"0/custom", "0/custom,"}) {
    const Decoded decoded = decode(text);
    ASSERT_EQ(decoded.status, Decoder::Status::packet_ready) << text;
    EXPECT_EQ(decoded.packet.nsp, "/custom") << text;
    EXPECT_TRUE(decoded.packet.data.is_null()) << text;
  }
  EXPECT_EQ(decode(R"(2/,["a"])").packet.nsp, "/");
  EXPECT_EQ(decode(R"(2/a/b?c=d,["a"])").packet.nsp, "/a/b?c=d");
}

TEST(SioPacket, AckIdIsOnlyARunOfDigits) {
  EXPECT_EQ(decode_error(R"(2abc["foo"])"), DecodeError::invalid_json);
  EXPECT_EQ(decode_error(R"(2/admin,abc["foo"])"), DecodeError::invalid_json);
  EXPECT_EQ(decode_error(R"(21a["foo"])"), DecodeError::invalid_json);
  EXPECT_EQ(decode(R"(2007["foo"])").packet.id, 7U);
  EXPECT_EQ(decode(R"(20["foo"])").packet.id, 0U);
}

TEST(SioPacket, AckIdLimit) {
  const Decoded max = decode(R"(29007199254740991["foo"])");
  ASSERT_EQ(max.status, Decoder::Status::packet_ready);
  EXPECT_EQ(max.packet.id, kMaxAckId);
  EXPECT_EQ(decode_error(R"(29007199254740992["foo"])"), DecodeError::invalid_ack_id);
  EXPECT_EQ(decode_error(R"(2999999999999999999999999999["foo"])"), DecodeError::invalid_ack_id);
}

TEST(SioPacket, RejectsUnknownPacketTypes) {
  for (std::string_view text : {"", "7", "8[]", "9", "a", "-1", " 0", "/"}) {
    EXPECT_EQ(decode_error(text), DecodeError::unknown_packet_type) << text;
  }
}

TEST(SioPacket, RejectsIllegalAttachmentCounts) {
  for (std::string_view text :
       {"5", "6", "51", R"(5-["a"])", R"(51["a"])", R"(5a-["a"])", R"(51a-["a"])", R"(5 1-["a"])",
        R"(51.0-["a"])", R"(5-1-["a"])", R"(5/nsp,["a"])"}) {
    EXPECT_EQ(decode_error(text), DecodeError::illegal_attachments) << text;
  }
}

TEST(SioPacket, RejectsTooManyAttachments) {
  EXPECT_EQ(decode_error(R"(511-["a"])"), DecodeError::too_many_attachments);
  EXPECT_EQ(decode_error(R"(699999999999999999999999999-[])"), DecodeError::too_many_attachments);
  EXPECT_EQ(decode(R"(510-["a"])").status, Decoder::Status::need_attachments);

  Decoder small(ProtocolVersion::v5, 2);
  EXPECT_EQ(small.feed_text(R"(53-["a"])"), Decoder::Status::failed);
  EXPECT_EQ(small.error(), DecodeError::too_many_attachments);

  Decoder unlimited(ProtocolVersion::v5, std::numeric_limits<std::size_t>::max());
  EXPECT_EQ(unlimited.feed_text("5" + std::to_string(std::numeric_limits<std::size_t>::max()) +
                                R"(-["a"])"),
            Decoder::Status::need_attachments);
  Decoder overflow(ProtocolVersion::v5, std::numeric_limits<std::size_t>::max());
  EXPECT_EQ(overflow.feed_text(R"(5184467440737095516160-["a"])"), Decoder::Status::failed);
  EXPECT_EQ(overflow.error(), DecodeError::too_many_attachments);
}

TEST(SioPacket, RejectsZeroAttachmentsAsSocketIoParserDoes) {
  EXPECT_EQ(decode_error(R"(50-/nsp,3["a"])"), DecodeError::illegal_attachments);
  EXPECT_EQ(decode_error(R"(60-3["a"])"), DecodeError::illegal_attachments);
}

TEST(SioPacket, EncodesBinaryTypesWithoutAttachmentsAsPlain) {
  Packet packet{.type = PacketType::binary_event, .nsp = "/nsp", .id = 3, .data = boost::json::array{"a"},
                .attachments = {}};
  EXPECT_EQ(encode_packet(packet), R"(2/nsp,3["a"])");
  packet.type = PacketType::binary_ack;
  EXPECT_EQ(encode_packet(packet), R"(3/nsp,3["a"])");
}

TEST(SioPacket, RejectsInvalidJson) {
  for (std::string_view text :
       {R"(2["a")", R"(2["a"]x)", R"(2["a"]])", "0{", R"(0{"a":1}})", "0{'a':1}", R"(2["a",])",
        R"(2["a"/*c*/])", "4undefined", "2[\"\xff\"]"}) {
    EXPECT_EQ(decode_error(text), DecodeError::invalid_json) << text;
  }
}

TEST(SioPacket, LimitsJsonDepthTo64) {
  const auto nested = [](int depth) {
    return "2[\"a\"," + std::string(static_cast<std::size_t>(depth - 1), '[') +
           std::string(static_cast<std::size_t>(depth), ']');
  };
  EXPECT_EQ(decode(nested(64)).status, Decoder::Status::packet_ready);
  EXPECT_EQ(decode_error(nested(65)), DecodeError::invalid_json);
}

TEST(SioPacket, AcceptsSurroundingWhitespaceLikeJsonParse) {
  const Decoded decoded = decode("2 \t[\"a\", 1 ]\n ");
  ASSERT_EQ(decoded.status, Decoder::Status::packet_ready);
  EXPECT_EQ(decoded.packet.data, json(R"(["a",1])"));
}

TEST(SioPacket, ParsesNumbersExactly) {
  const Decoded decoded =
      decode(R"(2["n",1.2222222222222223e20,0.1,5e-324,1e400,-1e-400,-9223372036854775808,)"
             R"(18446744073709551615,18446744073709551616])");
  ASSERT_EQ(decoded.status, Decoder::Status::packet_ready);
  const boost::json::array& numbers = decoded.packet.data.get_array();
  EXPECT_EQ(numbers[1].get_double(), 1.2222222222222223e20);
  EXPECT_EQ(numbers[2].get_double(), 0.1);
  EXPECT_EQ(numbers[3].get_double(), 5e-324);
  EXPECT_EQ(numbers[4].get_double(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(numbers[5].get_double(), 0.0);
  EXPECT_EQ(numbers[6].get_int64(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(numbers[7].get_uint64(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(numbers[8].get_double(), 18446744073709551616.0);

  // Shortest representations, as JSON.stringify writes them, come back bit for bit.
  std::mt19937_64 random(42);
  for (int i = 0; i < 10000; ++i) {
    const double value = std::uniform_real_distribution<double>(-1e6, 1e6)(random);
    std::array<char, 32> text{};
    const auto end = std::to_chars(text.data(), text.data() + text.size(), value).ptr;
    const std::string event = "2[\"n\"," + std::string(text.data(), end) + "]";
    const Decoded round = decode(event);
    ASSERT_EQ(round.status, Decoder::Status::packet_ready) << event;
    ASSERT_EQ(round.packet.data.get_array()[1].to_number<double>(), value) << event;
  }
}

TEST(SioPacket, ValidatesPayloadPerType) {
  const std::vector<std::string_view> valid{
      "0",    "0{}",       R"(0/a,{"x":[1]})", "01",  "1",          "1/a,",
      "17",   "2[1]",      "2[1.5]",           R"(2["a",null])", R"(2["connected"])",
      "3[]",  "31[]",      R"(3[null,1])",     "4",   "4{}",        R"(4"x")",
      R"(2["Connect"])"};
  for (std::string_view text : valid) {
    EXPECT_EQ(decode(text).status, Decoder::Status::packet_ready) << text;
  }
  const std::vector<std::string_view> invalid{
      "0[]",  R"(0"x")", "0null", "0true", "1{}",  R"(1/a,{})", "1[]",
      "1null", "2",      "2/a,",  "21",   "2[]",   "2{}",  "2[null]",   "2[[]]",
      "2[{}]", "2[true]", R"(2"a")", "3", "31",    "3/a,", "3{}",       "3null",
      R"(3"a")", "4[]",  "4null", "41[]", "4 1",  "51-",  "61-",        R"(51-{})",
      R"(61-{"_placeholder":true,"num":0})"};
  for (std::string_view text : invalid) {
    EXPECT_EQ(decode_error(text), DecodeError::invalid_payload) << text;
  }
}

TEST(SioPacket, RejectsReservedEventNames) {
  for (std::string_view name : {"connect", "connect_error", "disconnect", "disconnecting",
                                "newListener", "removeListener"}) {
    EXPECT_TRUE(is_reserved_event_name(name)) << name;
    const std::string text = "2[\"" + std::string(name) + "\",1]";
    EXPECT_EQ(decode_error(text), DecodeError::invalid_payload) << text;
    const std::string binary = "51-[\"" + std::string(name) + R"(",{"_placeholder":true,"num":0}])";
    EXPECT_EQ(decode_error(binary), DecodeError::invalid_payload) << binary;
  }
  for (std::string_view name : {"", "Connect", "connect ", "message", "error", "ping"}) {
    EXPECT_FALSE(is_reserved_event_name(name)) << name;
  }
}

TEST(SioPacket, ValidatesPlaceholdersWhenTheLastAttachmentArrives) {
  const std::vector<std::string_view> invalid{
      R"(51-["a",{"_placeholder":true,"num":1}])",
      R"(51-["a",{"_placeholder":true,"num":-1}])",
      R"(51-["a",{"_placeholder":true,"num":"0"}])",
      R"(51-["a",{"_placeholder":true,"num":0.5}])",
      R"(51-["a",{"_placeholder":true,"num":null}])",
      R"(51-["a",{"_placeholder":true}])",
      R"(51-["a",{"x":[{"y":{"_placeholder":true,"num":7}}]}])",
      R"(61-[{"_placeholder":true,"num":18446744073709551615}])",
  };
  for (std::string_view text : invalid) {
    Decoder decoder(ProtocolVersion::v5);
    ASSERT_EQ(decoder.feed_text(text), Decoder::Status::need_attachments) << text;
    EXPECT_EQ(decoder.feed_binary("x"), Decoder::Status::failed) << text;
    EXPECT_EQ(decoder.error(), DecodeError::illegal_attachments) << text;
  }
  const std::vector<std::string_view> valid{
      R"(51-["a",{"_placeholder":true,"num":0.0}])",
      R"(51-["a",{"_placeholder":false,"num":5}])",
      R"(51-["a",{"_placeholder":1,"num":5}])",
      R"(51-["a",{"x":[{"y":{"_placeholder":true,"num":0}}]}])",
      R"(51-["a",{"_placeholder":true,"num":0,"extra":{"_placeholder":true,"num":9}}])",
      R"(51-["no placeholder at all"])",
  };
  for (std::string_view text : valid) {
    EXPECT_EQ(decode(text, {"x"}).status, Decoder::Status::packet_ready) << text;
  }
}

TEST(SioPacket, ReassemblesAttachmentsInOrder) {
  Decoder decoder(ProtocolVersion::v5);
  const std::string text =
      R"(52-/chat,4["upload",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}])";
  ASSERT_EQ(decoder.feed_text(text), Decoder::Status::need_attachments);
  ASSERT_EQ(decoder.feed_binary("first"), Decoder::Status::need_attachments);
  ASSERT_EQ(decoder.feed_binary(""), Decoder::Status::packet_ready);
  const Packet packet = decoder.take();
  EXPECT_EQ(packet.type, PacketType::binary_event);
  EXPECT_EQ(packet.nsp, "/chat");
  EXPECT_EQ(packet.id, 4U);
  EXPECT_EQ(packet.attachments, (std::vector<std::string>{"first", ""}));
  EXPECT_EQ(packet.data,
            json(R"(["upload",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}])"));
  EXPECT_EQ(encode_packet(packet), text);
}

TEST(SioPacket, RejectsTextWhileAttachmentsArePending) {
  Decoder decoder(ProtocolVersion::v5);
  ASSERT_EQ(decoder.feed_text(R"(52-["a",{"_placeholder":true,"num":0}])"),
            Decoder::Status::need_attachments);
  ASSERT_EQ(decoder.feed_binary("x"), Decoder::Status::need_attachments);
  EXPECT_EQ(decoder.feed_text(R"(2["b"])"), Decoder::Status::failed);
  EXPECT_EQ(decoder.error(), DecodeError::unexpected_text);
}

TEST(SioPacket, RejectsBinaryWhenNoneIsExpected) {
  Decoder fresh(ProtocolVersion::v5);
  EXPECT_EQ(fresh.feed_binary("x"), Decoder::Status::failed);
  EXPECT_EQ(fresh.error(), DecodeError::unexpected_binary);

  Decoder after_packet(ProtocolVersion::v5);
  ASSERT_EQ(after_packet.feed_text(R"(51-["a",{"_placeholder":true,"num":0}])"),
            Decoder::Status::need_attachments);
  ASSERT_EQ(after_packet.feed_binary("x"), Decoder::Status::packet_ready);
  EXPECT_EQ(after_packet.feed_binary("y"), Decoder::Status::failed);
  EXPECT_EQ(after_packet.error(), DecodeError::unexpected_binary);
}

TEST(SioPacket, FailureIsFinal) {
  Decoder decoder(ProtocolVersion::v5);
  ASSERT_EQ(decoder.feed_text("9"), Decoder::Status::failed);
  EXPECT_EQ(decoder.feed_text(R"(2["a"])"), Decoder::Status::failed);
  EXPECT_EQ(decoder.feed_binary("x"), Decoder::Status::failed);
  EXPECT_EQ(decoder.error(), DecodeError::unknown_packet_type);

  Decoder pending(ProtocolVersion::v5);
  ASSERT_EQ(pending.feed_text(R"(51-["a",{"_placeholder":true,"num":3}])"),
            Decoder::Status::need_attachments);
  ASSERT_EQ(pending.feed_binary("x"), Decoder::Status::failed);
  EXPECT_EQ(pending.feed_text(R"(2["a"])"), Decoder::Status::failed);
  EXPECT_EQ(pending.error(), DecodeError::illegal_attachments);
}

TEST(SioPacket, DecodesSuccessivePackets) {
  Decoder decoder(ProtocolVersion::v5);
  ASSERT_EQ(decoder.feed_text(R"(0/a,{"k":1})"), Decoder::Status::packet_ready);
  EXPECT_EQ(decoder.take().nsp, "/a");
  ASSERT_EQ(decoder.feed_text(R"(51-["b",{"_placeholder":true,"num":0}])"),
            Decoder::Status::need_attachments);
  ASSERT_EQ(decoder.feed_binary("bin"), Decoder::Status::packet_ready);
  EXPECT_EQ(decoder.take().attachments, std::vector<std::string>{"bin"});
  ASSERT_EQ(decoder.feed_text(R"(2["c"])"), Decoder::Status::packet_ready);
  const Packet last = decoder.take();
  EXPECT_EQ(last.nsp, "/");
  EXPECT_FALSE(last.id.has_value());
  EXPECT_TRUE(last.attachments.empty());
  EXPECT_EQ(last.data, json(R"(["c"])"));
  EXPECT_EQ(decoder.error(), DecodeError::none);
}

TEST(SioPacketV4, ConnectQueryBecomesAuth) {
  for (std::string_view text : {"0/custom?token=abc,", "0/custom?token=abc"}) {
    const Decoded decoded = decode_v4(text);
    ASSERT_EQ(decoded.status, Decoder::Status::packet_ready) << text;
    EXPECT_EQ(decoded.packet.type, PacketType::connect);
    EXPECT_EQ(decoded.packet.nsp, "/custom") << text;
    EXPECT_EQ(decoded.packet.data, json(R"({"token":"abc"})")) << text;
  }
  const Decoded root = decode_v4("0/?token=1&b=2,");
  EXPECT_EQ(root.packet.nsp, "/");
  EXPECT_EQ(root.packet.data, json(R"({"token":"1","b":"2"})"));

  const Decoded empty = decode_v4("0/custom?,");
  EXPECT_EQ(empty.packet.nsp, "/custom");
  EXPECT_EQ(empty.packet.data, json("{}"));
}

TEST(SioPacketV4, QueryIsPercentDecodedLikeNodeQuerystring) {
  const std::vector<std::pair<std::string_view, std::string_view>> cases{
      {"0/a?t=a%20b+c", R"({"t":"a b c"})"},
      {"0/a?t=%C3%A9%e2%82%ac", "{\"t\":\"\xC3\xA9\xE2\x82\xAC\"}"},
      {"0/a?t=%zz%4%", R"({"t":"%zz%4%"})"},
      {"0/a?t=%FF", "{\"t\":\"\xEF\xBF\xBD\"}"},
      {"0/a?t=%E2%82", "{\"t\":\"\xEF\xBF\xBD\"}"},
      {"0/a?t=%E2%82x", "{\"t\":\"\xEF\xBF\xBDx\"}"},
      {"0/a?t=%ED%A0%80", "{\"t\":\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"}"},
      {"0/a?t=%F0%9F%98%80", "{\"t\":\"\xF0\x9F\x98\x80\"}"},
      {"0/a?t=%26%3D&u", R"({"t":"&=","u":""})"},
      {"0/a?&&t=1&&", R"({"t":"1"})"},
      {"0/a?t=1&t=2", R"({"t":"2"})"},
      {"0/a?=x&k%20y=a=b", R"({"":"x","k y":"a=b"})"},
      {"0/a?t=1?2/3", R"({"t":"1?2/3"})"},
  };
  for (const auto& [text, auth] : cases) {
    const Decoded decoded = decode_v4(text);
    ASSERT_EQ(decoded.status, Decoder::Status::packet_ready) << text;
    EXPECT_EQ(decoded.packet.nsp, "/a") << text;
    EXPECT_EQ(decoded.packet.data, json(auth)) << text;
  }
}

TEST(SioPacketV4, QueryReplacesJsonPayloadWhichMustStillBeValid) {
  const Decoded decoded = decode_v4(R"(0/a?t=1,{"other":true})");
  ASSERT_EQ(decoded.status, Decoder::Status::packet_ready);
  EXPECT_EQ(decoded.packet.data, json(R"({"t":"1"})"));
  EXPECT_EQ(decode_v4(R"(0/a?t=1,["x"])").error, DecodeError::invalid_payload);
  EXPECT_EQ(decode_v4(R"(0/a?t=1,{)").error, DecodeError::invalid_json);

  const Decoded without_query = decode_v4(R"(0/a,{"token":"j"})");
  EXPECT_EQ(without_query.packet.data, json(R"({"token":"j"})"));
}

TEST(SioPacketV4, QueryIsStrippedFromOtherPackets) {
  const Decoded event = decode_v4(R"(2/custom?token=abc,5["a"])");
  ASSERT_EQ(event.status, Decoder::Status::packet_ready);
  EXPECT_EQ(event.packet.nsp, "/custom");
  EXPECT_EQ(event.packet.id, 5U);
  EXPECT_EQ(event.packet.data, json(R"(["a"])"));

  EXPECT_EQ(decode_v4("1/custom?x=1,").packet.nsp, "/custom");
  EXPECT_TRUE(decode_v4("1/custom?x=1,").packet.data.is_null());
  EXPECT_EQ(decode_v4(R"(4/custom?x=1,"no")").packet.data, json(R"("no")"));
}

TEST(SioPacketV4, ProtocolFiveKeepsTheQueryInTheNamespace) {
  const Decoded decoded = decode("0/custom?token=abc,");
  ASSERT_EQ(decoded.status, Decoder::Status::packet_ready);
  EXPECT_EQ(decoded.packet.nsp, "/custom?token=abc");
  EXPECT_TRUE(decoded.packet.data.is_null());
}

TEST(SioPacketEncode, PromotesEventsAndAcksWithAttachments) {
  Packet event;
  event.type = PacketType::event;
  event.nsp = "/chat";
  event.data = json(R"(["file",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  event.attachments = {"a", "b"};
  EXPECT_EQ(encode_packet(event),
            R"(52-/chat,["file",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");

  Packet ack;
  ack.type = PacketType::ack;
  ack.id = 789;
  ack.data = json(R"([{"_placeholder":true,"num":0}])");
  ack.attachments = {"a"};
  EXPECT_EQ(encode_packet(ack), R"(61-789[{"_placeholder":true,"num":0}])");

  ack.type = PacketType::binary_ack;
  EXPECT_EQ(encode_packet(ack), R"(61-789[{"_placeholder":true,"num":0}])");

  Packet binary_without_attachments;
  binary_without_attachments.type = PacketType::binary_event;
  binary_without_attachments.data = json(R"(["x"])");
  EXPECT_EQ(encode_packet(binary_without_attachments), R"(2["x"])");
}

TEST(SioPacketEncode, AppendsToExistingText) {
  Packet packet;
  packet.type = PacketType::event;
  packet.id = 0;
  packet.data = json(R"(["hello","x"])");
  std::string out = "4";
  encode_packet(packet, out);
  EXPECT_EQ(out, R"(420["hello","x"])");

  // Longer than the serializer's chunk, so the output grows while writing.
  std::string big(5000, 'y');
  packet.data = boost::json::array{"big", boost::json::string(big)};
  out = "4";
  encode_packet(packet, out);
  EXPECT_EQ(out, "420[\"big\",\"" + big + "\"]");
}

TEST(SioPacketEncode, OmitsAbsentParts) {
  Packet connect;
  connect.type = PacketType::connect;
  EXPECT_EQ(encode_packet(connect), "0");
  connect.nsp = "/admin";
  EXPECT_EQ(encode_packet(connect), "0/admin,");
  connect.data = json(R"({"sid":"abc"})");
  EXPECT_EQ(encode_packet(connect), R"(0/admin,{"sid":"abc"})");

  Packet disconnect;
  disconnect.type = PacketType::disconnect;
  EXPECT_EQ(encode_packet(disconnect), "1");
}

TEST(SioPacketEncode, WritesNonFiniteNumbersAsNullLikeJsonStringify) {
  Packet packet;
  packet.data = boost::json::array{"n", std::numeric_limits<double>::infinity(),
                                   -std::numeric_limits<double>::infinity(), std::nan(""),
                                   boost::json::object{{"x", std::nan("")}}, 1.5};
  EXPECT_EQ(encode_packet(packet), R"(2["n",null,null,null,{"x":null},1.5E0])");
}

TEST(SioPacket, DecodedPacketsRoundTrip) {
  const std::vector<std::pair<std::string_view, std::vector<std::string>>> texts{
      {"0", {}},
      {R"(0/admin,{"token":"1","n":[1,2.5,-3,18446744073709551615,true,null]})", {}},
      {R"(2/x,9007199254740991["e",{"a":{"b":[]}},"\u0000\n\"é"])", {}},
      {"1/a,", {}},
      {R"(4/a,{"message":"m","data":{"k":1}})", {}},
      {R"(3/a,0[])", {}},
      {R"(53-/a,1["e",{"_placeholder":true,"num":2},[{"_placeholder":true,"num":0}],)"
       R"({"_placeholder":true,"num":1}])",
       {"one", std::string(3, '\0'), "three"}},
  };
  for (const auto& [text, attachments] : texts) {
    const Decoded first = decode(text, attachments);
    ASSERT_EQ(first.status, Decoder::Status::packet_ready) << text;
    const std::string encoded = encode_packet(first.packet);
    const Decoded second = decode(encoded, first.packet.attachments);
    ASSERT_EQ(second.status, Decoder::Status::packet_ready) << encoded;
    EXPECT_EQ(second.packet.type, first.packet.type) << text;
    EXPECT_EQ(second.packet.nsp, first.packet.nsp) << text;
    EXPECT_EQ(second.packet.id, first.packet.id) << text;
    EXPECT_EQ(second.packet.data, first.packet.data) << text;
    EXPECT_EQ(second.packet.attachments, first.packet.attachments) << text;
    EXPECT_EQ(encode_packet(second.packet), encoded);
  }
}

TEST(SioPacketV4, ConnectAuthRoundTripsAsJson) {
  const Decoded first = decode_v4("0/custom?token=a%20b,");
  ASSERT_EQ(first.status, Decoder::Status::packet_ready);
  const std::string encoded = encode_packet(first.packet);
  EXPECT_EQ(encoded, R"(0/custom,{"token":"a b"})");
  const Decoded second = decode_v4(encoded);
  ASSERT_EQ(second.status, Decoder::Status::packet_ready);
  EXPECT_EQ(second.packet.nsp, "/custom");
  EXPECT_EQ(second.packet.data, first.packet.data);
}

TEST(SioPacket, ErrorTexts) {
  EXPECT_EQ(to_string(DecodeError::none), "no error");
  EXPECT_EQ(to_string(DecodeError::unknown_packet_type), "unknown packet type");
  EXPECT_EQ(to_string(DecodeError::illegal_attachments), "illegal attachments");
  EXPECT_EQ(to_string(DecodeError::too_many_attachments), "too many attachments");
  EXPECT_EQ(to_string(DecodeError::invalid_ack_id), "invalid ack id");
  EXPECT_EQ(to_string(DecodeError::invalid_json), "invalid json");
  EXPECT_EQ(to_string(DecodeError::invalid_payload), "invalid payload");
  EXPECT_EQ(to_string(DecodeError::unexpected_text),
            "got plaintext data when reconstructing a packet");
  EXPECT_EQ(to_string(DecodeError::unexpected_binary),
            "got binary data when not reconstructing a packet");
}

}  // namespace
}  // namespace iogate::sio
