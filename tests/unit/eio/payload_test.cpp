#include "eio/proto/payload.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iogate::eio {
namespace {

using namespace std::string_view_literals;

// An owned copy of a PacketView: views are valid only during the callback.
struct Decoded {
  PacketType type = PacketType::message;
  bool binary = false;
  std::string data;

  bool operator==(const Decoded&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const Decoded& packet) {
    return os << "{type " << static_cast<int>(packet.type)
              << (packet.binary ? " binary " : " text ") << testing::PrintToString(packet.data)
              << "}";
  }
};

Decoded text(PacketType type, std::string data = {}) { return {type, false, std::move(data)}; }
Decoded binary(std::string data, PacketType type = PacketType::message) {
  return {type, true, std::move(data)};
}

using Decoder = bool (*)(std::string_view, PacketCallback);

struct Result {
  bool ok = false;
  std::vector<Decoded> packets;
};

Result decode(Decoder decoder, std::string_view body, std::size_t stop_after = SIZE_MAX) {
  Result result;
  result.ok = decoder(body, [&result, stop_after](const PacketView& packet) {
    result.packets.push_back({packet.type, packet.binary, std::string(packet.data)});
    return result.packets.size() < stop_after;
  });
  return result;
}

std::string encode(void (*encoder)(std::span<const SharedPacket>, std::string&),
                   const std::vector<SharedPacket>& packets) {
  std::string out;
  encoder(packets, out);
  return out;
}

// Joins v4 payload parts with the record separator.
std::string v4_body(std::initializer_list<std::string_view> parts) {
  std::string body;
  for (const std::string_view part : parts) {
    body.append(part).push_back('\x1e');
  }
  body.pop_back();
  return body;
}

// 42["message","héllo€😀"]: 23 code points, 29 UTF-8 bytes, 24 UTF-16 units.
constexpr std::string_view kUnicodeEvent =
    "42[\"message\",\"h\xc3\xa9llo\xe2\x82\xac\xf0\x9f\x98\x80\"]";

// ---------------------------------------------------------------------------------------- v4

TEST(PayloadV4, DecodesTextAndBase64Binary) {
  const Result result = decode(decode_payload_v4, v4_body({"4hello", "bAQIDBA=="}));
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets,
            (std::vector{text(PacketType::message, "hello"), binary("\x01\x02\x03\x04")}));
}

TEST(PayloadV4, DecodesSinglePacket) {
  const Result result = decode(decode_payload_v4, "2probe");
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, std::vector{text(PacketType::ping, "probe")});
}

TEST(PayloadV4, DecodesConsecutiveBinaryPacketsEachWithItsOwnBytes) {
  const Result result = decode(decode_payload_v4, v4_body({"bAQI=", "bAwQF", "b"}));
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, (std::vector{binary("\x01\x02"), binary("\x03\x04\x05"), binary("")}));
}

TEST(PayloadV4, EmptyBodyIsMalformed) {
  const Result result = decode(decode_payload_v4, "");
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.packets.empty());
}

TEST(PayloadV4, UnknownTypeIsMalformed) {
  EXPECT_FALSE(decode(decode_payload_v4, "abc").ok);
  EXPECT_FALSE(decode(decode_payload_v4, "7").ok);
  EXPECT_FALSE(decode(decode_payload_v4, "\x04hello"sv).ok);
}

TEST(PayloadV4, BadBase64IsMalformed) {
  EXPECT_FALSE(decode(decode_payload_v4, "bAQIDB").ok);  // length not a multiple of 4
  EXPECT_FALSE(decode(decode_payload_v4, "bAQ@D").ok);   // outside the alphabet
  EXPECT_FALSE(decode(decode_payload_v4, "bA=QD").ok);   // padding in the middle
  EXPECT_FALSE(decode(decode_payload_v4, "b4AQID").ok);  // v3 form: type digit before base64
  EXPECT_FALSE(decode(decode_payload_v4, "bAQ ID").ok);
}

TEST(PayloadV4, EmptyPartIsMalformed) {
  const Result middle = decode(decode_payload_v4, v4_body({"4a", "", "4b"}));
  EXPECT_FALSE(middle.ok);
  EXPECT_EQ(middle.packets, std::vector{text(PacketType::message, "a")});

  const Result trailing = decode(decode_payload_v4, v4_body({"4a", ""}));
  EXPECT_FALSE(trailing.ok);
  EXPECT_EQ(trailing.packets, std::vector{text(PacketType::message, "a")});

  EXPECT_FALSE(decode(decode_payload_v4, v4_body({"", "4a"})).ok);
}

TEST(PayloadV4, PacketsBeforeBadOneAreDelivered) {
  const Result result = decode(decode_payload_v4, v4_body({"4a", "bAQ==", "9x", "4b"}));
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.packets, (std::vector{text(PacketType::message, "a"), binary("\x01")}));
}

TEST(PayloadV4, CallbackStopsDecodingEarly) {
  const Result result = decode(decode_payload_v4, v4_body({"4a", "4b", "garbage"}), 2);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets,
            (std::vector{text(PacketType::message, "a"), text(PacketType::message, "b")}));
}

TEST(PayloadV4, TextMayContainBytesOtherThanTheSeparator) {
  const Result result = decode(decode_payload_v4, v4_body({"4a:b\x00\xff"sv, "1"}));
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, (std::vector{text(PacketType::message, std::string("a:b\x00\xff"sv)),
                                         text(PacketType::close)}));
}

TEST(PayloadV4, EncodesProtocolExample) {
  const std::vector packets{make_text_packet(PacketType::message, "hello"),
                            make_binary_packet("\x01\x02\x03\x04"sv)};
  EXPECT_EQ(encode(encode_payload_v4, packets), v4_body({"4hello", "bAQIDBA=="}));
}

TEST(PayloadV4, EncodesSinglePacketWithoutSeparator) {
  EXPECT_EQ(encode(encode_payload_v4, {make_text_packet(PacketType::ping)}), "2");
  EXPECT_EQ(encode(encode_payload_v4, {make_binary_packet("")}), "b");
}

TEST(PayloadV4, EncodeOfNothingIsEmpty) { EXPECT_EQ(encode(encode_payload_v4, {}), ""); }

TEST(PayloadV4, EncodeAppendsToOutput) {
  std::string out = "x";
  const std::vector packets{make_text_packet(PacketType::noop)};
  encode_payload_v4(packets, out);
  EXPECT_EQ(out, "x6");
}

TEST(PayloadV4, RoundTrip) {
  const std::vector packets{
      make_text_packet(PacketType::open, "{\"sid\":\"abc\"}"), make_binary_packet("\x00\xfe\xff"sv),
      make_text_packet(PacketType::message), make_binary_packet(std::string(1000, '\x7f')),
      make_text_packet(PacketType::message, kUnicodeEvent.substr(1))};
  const Result result = decode(decode_payload_v4, encode(encode_payload_v4, packets));
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets,
            (std::vector{text(PacketType::open, "{\"sid\":\"abc\"}"),
                         binary(std::string("\x00\xfe\xff"sv)), text(PacketType::message),
                         binary(std::string(1000, '\x7f')),
                         text(PacketType::message, std::string(kUnicodeEvent.substr(1)))}));
}

// ----------------------------------------------------------------------------------- v3 text

TEST(PayloadV3Text, DecodesProtocolBinaryExample) {
  const Result result = decode(decode_payload_v3_text, "10:b4AQIDBA==");
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, std::vector{binary("\x01\x02\x03\x04")});
}

TEST(PayloadV3Text, DecodesSeveralPackets) {
  const Result result = decode(decode_payload_v3_text, "6:2probe1:212:4hello world");
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, (std::vector{text(PacketType::ping, "probe"), text(PacketType::ping),
                                         text(PacketType::message, "hello world")}));
}

TEST(PayloadV3Text, LengthCountsUtf16UnitsWithEmojiAsTwo) {
  const Result result = decode(decode_payload_v3_text, "24:" + std::string(kUnicodeEvent));
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets,
            std::vector{text(PacketType::message, std::string(kUnicodeEvent.substr(1)))});

  const Result followed =
      decode(decode_payload_v3_text, "24:" + std::string(kUnicodeEvent) + "1:3");
  EXPECT_TRUE(followed.ok);
  EXPECT_EQ(followed.packets.size(), 2u);
}

TEST(PayloadV3Text, ByteOrCodePointLengthIsMalformed) {
  // 29 is the UTF-8 byte length: beyond the body.
  EXPECT_FALSE(decode(decode_payload_v3_text, "29:" + std::string(kUnicodeEvent)).ok);
  // 23 is the code point count: leaves `]` where the next length should be.
  EXPECT_FALSE(decode(decode_payload_v3_text, "23:" + std::string(kUnicodeEvent)).ok);
}

TEST(PayloadV3Text, LengthCuttingSurrogatePairIsMalformed) {
  // 21 units end between the two UTF-16 halves of the emoji.
  EXPECT_FALSE(decode(decode_payload_v3_text, "21:" + std::string(kUnicodeEvent)).ok);
  EXPECT_FALSE(decode(decode_payload_v3_text, "2:4\xf0\x9f\x98\x80"sv).ok);
  EXPECT_TRUE(decode(decode_payload_v3_text, "3:4\xf0\x9f\x98\x80"sv).ok);
}

TEST(PayloadV3Text, EmptyBodyIsMalformed) { EXPECT_FALSE(decode(decode_payload_v3_text, "").ok); }

TEST(PayloadV3Text, EmptyEntryZeroColonIsSkippedAsNodeDoesNotMalformed) {
  const Result alone = decode(decode_payload_v3_text, "0:");
  EXPECT_TRUE(alone.ok);
  EXPECT_TRUE(alone.packets.empty());

  const Result between = decode(decode_payload_v3_text, "1:40:1:6");
  EXPECT_TRUE(between.ok);
  EXPECT_EQ(between.packets, (std::vector{text(PacketType::message), text(PacketType::noop)}));
}

TEST(PayloadV3Text, FramingErrorsAreMalformed) {
  EXPECT_FALSE(decode(decode_payload_v3_text, "4hello").ok);  // no length at all
  EXPECT_FALSE(decode(decode_payload_v3_text, ":4a").ok);     // empty length
  EXPECT_FALSE(decode(decode_payload_v3_text, "x:4a").ok);    // non-digit length
  EXPECT_FALSE(decode(decode_payload_v3_text, "+2:4a").ok);
  EXPECT_FALSE(decode(decode_payload_v3_text, " 2:4a").ok);
  EXPECT_FALSE(decode(decode_payload_v3_text, "2").ok);              // missing ':'
  EXPECT_FALSE(decode(decode_payload_v3_text, "3:4a").ok);           // length beyond the body
  EXPECT_FALSE(decode(decode_payload_v3_text, "2:4a3").ok);          // trailing length, no ':'
  EXPECT_FALSE(decode(decode_payload_v3_text, "2:4a3:4b").ok);       // truncated last packet
  EXPECT_FALSE(decode(decode_payload_v3_text, "99999999999:4").ok);  // more than 10 digits
  EXPECT_FALSE(decode(decode_payload_v3_text, "00000000002:4a").ok);
}

TEST(PayloadV3Text, TenDigitLengthIsAcceptedWhenItFits) {
  const Result result = decode(decode_payload_v3_text, "0000000002:4a");
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, std::vector{text(PacketType::message, "a")});
}

TEST(PayloadV3Text, UndecodablePacketIsMalformed) {
  EXPECT_FALSE(decode(decode_payload_v3_text, "2:7a").ok);  // unknown type
  EXPECT_FALSE(decode(decode_payload_v3_text, "3:abc").ok);
  EXPECT_FALSE(decode(decode_payload_v3_text, "1:b").ok);       // binary without type
  EXPECT_FALSE(decode(decode_payload_v3_text, "6:b9AQ==").ok);  // binary with unknown type
  EXPECT_FALSE(decode(decode_payload_v3_text, "5:b4AQI").ok);   // bad base64
  EXPECT_FALSE(decode(decode_payload_v3_text, "5:bAQ==").ok);   // v4 form: no type digit
}

TEST(PayloadV3Text, BinaryReportsItsTypeDigit) {
  const Result result = decode(decode_payload_v3_text, "2:b2");
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, std::vector{binary("", PacketType::ping)});
}

TEST(PayloadV3Text, PacketsBeforeBadOneAreDelivered) {
  const Result result = decode(decode_payload_v3_text, "2:4a10:b4AQIDBA==2:7b2:4c");
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.packets,
            (std::vector{text(PacketType::message, "a"), binary("\x01\x02\x03\x04")}));
}

TEST(PayloadV3Text, CallbackStopsDecodingEarly) {
  const Result result = decode(decode_payload_v3_text, "2:4a2:4bgarbage", 1);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, std::vector{text(PacketType::message, "a")});
}

TEST(PayloadV3Text, EncodesTextAndBinary) {
  const std::vector packets{make_text_packet(PacketType::message, "hello"),
                            make_binary_packet("\x01\x02\x03\x04"sv)};
  EXPECT_EQ(encode(encode_payload_v3_text, packets), "6:4hello10:b4AQIDBA==");
}

TEST(PayloadV3Text, EncodesUtf16LengthLikeNodeEcho) {
  const std::vector packets{make_text_packet(
      PacketType::message, "2[\"message-back\",\"h\xc3\xa9llo\xe2\x82\xac\xf0\x9f\x98\x80\"]")};
  EXPECT_EQ(encode(encode_payload_v3_text, packets),
            "29:42[\"message-back\",\"h\xc3\xa9llo\xe2\x82\xac\xf0\x9f\x98\x80\"]");
}

TEST(PayloadV3Text, EncodeOfNothingIsZeroColon) {
  EXPECT_EQ(encode(encode_payload_v3_text, {}), "0:");
}

TEST(PayloadV3Text, EncodeAppendsToOutput) {
  std::string out = "x";
  const std::vector packets{make_text_packet(PacketType::pong, "probe")};
  encode_payload_v3_text(packets, out);
  EXPECT_EQ(out, "x6:3probe");
}

TEST(PayloadV3Text, RoundTrip) {
  const std::vector packets{make_text_packet(PacketType::message, kUnicodeEvent.substr(1)),
                            make_binary_packet(std::string(300, '\xee')),
                            make_text_packet(PacketType::message, std::string(12345, 'x') + "1:4"),
                            make_text_packet(PacketType::close)};
  const Result result = decode(decode_payload_v3_text, encode(encode_payload_v3_text, packets));
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets,
            (std::vector{text(PacketType::message, std::string(kUnicodeEvent.substr(1))),
                         binary(std::string(300, '\xee')),
                         text(PacketType::message, std::string(12345, 'x') + "1:4"),
                         text(PacketType::close)}));
}

// --------------------------------------------------------------------------------- v3 binary

TEST(PayloadV3Binary, DecodesTextAndBinaryEntries) {
  const Result result = decode(decode_payload_v3_binary,
                               "\x00\x06\xff" "4hello" "\x01\x04\xff\x04\x01\x02\x03"sv);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets,
            (std::vector{text(PacketType::message, "hello"), binary("\x01\x02\x03")}));
}

TEST(PayloadV3Binary, EncodesProtocolExampleLayout) {
  // 00 05 00 ff "451-[…]" 01 04 ff 04 01 02 03: a 50-byte text packet, then 3 binary bytes.
  std::string event = "51-[\"upload\",{\"_placeholder\":true,\"num\":0}]";
  event.resize(49, ' ');
  const std::vector packets{make_text_packet(PacketType::message, event),
                            make_binary_packet("\x01\x02\x03"sv)};
  EXPECT_EQ(encode(encode_payload_v3_binary, packets),
            std::string("\x00\x05\x00\xff" "4"sv) + event +
                std::string("\x01\x04\xff\x04\x01\x02\x03"sv));
}

TEST(PayloadV3Binary, LengthIsInBytesForText) {
  const std::vector packets{make_text_packet(PacketType::message, kUnicodeEvent.substr(1))};
  const std::string body = encode(encode_payload_v3_binary, packets);
  EXPECT_EQ(body.substr(0, 4), "\x00\x02\x09\xff"sv);  // 29 bytes, not 24 units
  const Result result = decode(decode_payload_v3_binary, body);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets,
            std::vector{text(PacketType::message, std::string(kUnicodeEvent.substr(1)))});
}

TEST(PayloadV3Binary, LeadingZeroDigitsAreAccepted) {
  const Result result = decode(decode_payload_v3_binary, "\x00\x00\x02\xff" "4a"sv);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, std::vector{text(PacketType::message, "a")});
}

TEST(PayloadV3Binary, Base64TextEntryIsBinaryAsInNode) {
  const Result result = decode(decode_payload_v3_binary, "\x00\x06\xff" "b4AQ=="sv);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, std::vector{binary("\x01")});
}

TEST(PayloadV3Binary, BinaryEntryReportsItsTypeByte) {
  const Result result = decode(decode_payload_v3_binary, "\x01\x01\xff\x02"sv);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, std::vector{binary("", PacketType::ping)});
}

TEST(PayloadV3Binary, EmptyBodyIsMalformed) {
  EXPECT_FALSE(decode(decode_payload_v3_binary, "").ok);
}

TEST(PayloadV3Binary, FramingErrorsAreMalformed) {
  const auto malformed = [](std::string_view body) {
    return !decode(decode_payload_v3_binary, body).ok;
  };
  EXPECT_TRUE(malformed("\x02\x01\xff" "4"sv));   // unknown marker
  EXPECT_TRUE(malformed("0\x01\xff" "4"sv));      // ASCII marker
  EXPECT_TRUE(malformed("\x00\xff" "4"sv));       // no digits
  EXPECT_TRUE(malformed("\x00\x0a\xff" "4"sv));   // digit above 9
  EXPECT_TRUE(malformed("\x00\x31\xff" "4"sv));   // ASCII digit
  EXPECT_TRUE(malformed("\x00\x01"sv));           // no 0xFF
  EXPECT_TRUE(malformed("\x00"sv));               // marker only
  EXPECT_TRUE(malformed("\x00\x03\xff" "4a"sv));  // length beyond the body
}

TEST(PayloadV3Binary, AtMostTenLengthDigits) {
  const std::string ten_digits = std::string(9, '\x00') + "\x01\xff";  // 0000000001
  const Result ten = decode(decode_payload_v3_binary, std::string(1, '\x00') + ten_digits + "4");
  EXPECT_TRUE(ten.ok);
  EXPECT_EQ(ten.packets, std::vector{text(PacketType::message)});
  EXPECT_FALSE(decode(decode_payload_v3_binary, std::string(2, '\x00') + ten_digits + "4").ok);
}

TEST(PayloadV3Binary, UndecodableEntryIsMalformed) {
  const auto malformed = [](std::string_view body) {
    return !decode(decode_payload_v3_binary, body).ok;
  };
  EXPECT_TRUE(malformed("\x00\x00\xff"sv));          // empty text
  EXPECT_TRUE(malformed("\x01\x00\xff"sv));          // empty binary
  EXPECT_TRUE(malformed("\x00\x02\xff" "7a"sv));     // bad type digit
  EXPECT_TRUE(malformed("\x01\x02\xff\x07\x01"sv));  // bad type byte
  EXPECT_TRUE(malformed("\x00\x02\xff" "4\xff"sv));  // invalid UTF-8
  EXPECT_TRUE(malformed("\x00\x04\xff" "b4AQ"sv));   // bad base64
}

TEST(PayloadV3Binary, PacketsBeforeBadOneAreDelivered) {
  const Result result = decode(decode_payload_v3_binary,
                               "\x00\x02\xff" "4a" "\x01\x02\xff\x04\x09" "\x05\x01\xff"sv);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.packets, (std::vector{text(PacketType::message, "a"), binary("\x09")}));
}

TEST(PayloadV3Binary, CallbackStopsDecodingEarly) {
  const Result result = decode(decode_payload_v3_binary, "\x00\x02\xff" "4a" "\x07garbage"sv, 1);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets, std::vector{text(PacketType::message, "a")});
}

TEST(PayloadV3Binary, EncodeAppendsToOutput) {
  std::string out = "x";
  const std::vector packets{make_binary_packet("")};
  encode_payload_v3_binary(packets, out);
  EXPECT_EQ(out, "x\x01\x01\xff\x04"sv);
}

TEST(PayloadV3Binary, RoundTripWithMultiDigitLengths) {
  const std::vector packets{make_text_packet(PacketType::message, std::string(1234, 'q')),
                            make_binary_packet(std::string(100'000, '\xff')),
                            make_text_packet(PacketType::pong)};
  const std::string body = encode(encode_payload_v3_binary, packets);
  EXPECT_EQ(body.substr(0, 6), "\x00\x01\x02\x03\x05\xff"sv);  // 1235 bytes with the type digit
  const Result result = decode(decode_payload_v3_binary, body);
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.packets,
            (std::vector{text(PacketType::message, std::string(1234, 'q')),
                         binary(std::string(100'000, '\xff')), text(PacketType::pong)}));
}

// ---------------------------------------------------------------------- format selection (v3)

TEST(V3NeedsBinaryPayload, OnlyForBinaryPacketsWithoutB64) {
  const std::vector text_only{make_text_packet(PacketType::message, "a")};
  const std::vector mixed{make_text_packet(PacketType::message, "a"), make_binary_packet("\x01"sv)};
  EXPECT_FALSE(v3_needs_binary_payload(text_only, false));
  EXPECT_FALSE(v3_needs_binary_payload(text_only, true));
  EXPECT_TRUE(v3_needs_binary_payload(mixed, false));
  EXPECT_FALSE(v3_needs_binary_payload(mixed, true));
  EXPECT_FALSE(v3_needs_binary_payload({}, false));
}

}  // namespace
}  // namespace iogate::eio
