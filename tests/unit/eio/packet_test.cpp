#include "eio/proto/packet.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace iogate::eio {
namespace {

using namespace std::string_view_literals;

TEST(DecodeTextPacket, ReadsTypeDigitAndData) {
  const auto packet = decode_text_packet("4hello");
  ASSERT_TRUE(packet);
  EXPECT_EQ(packet->type, PacketType::message);
  EXPECT_FALSE(packet->binary);
  EXPECT_EQ(packet->data, "hello");

  const auto probe = decode_text_packet("2probe");
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->type, PacketType::ping);
  EXPECT_EQ(probe->data, "probe");
}

TEST(DecodeTextPacket, AcceptsEveryTypeWithoutData) {
  for (char digit = '0'; digit <= '6'; ++digit) {
    const auto packet = decode_text_packet(std::string(1, digit));
    ASSERT_TRUE(packet) << digit;
    EXPECT_EQ(static_cast<int>(packet->type), digit - '0');
    EXPECT_TRUE(packet->data.empty());
  }
}

TEST(DecodeTextPacket, RejectsEmptyAndUnknownTypes) {
  EXPECT_FALSE(decode_text_packet(""));
  EXPECT_FALSE(decode_text_packet("7"));
  EXPECT_FALSE(decode_text_packet("9hello"));
  EXPECT_FALSE(decode_text_packet("/"));
  EXPECT_FALSE(decode_text_packet("abc"));
  EXPECT_FALSE(decode_text_packet("b4AQID"));
  EXPECT_FALSE(decode_text_packet("\x04hello"sv));
}

TEST(DecodeBinaryFrame, V4FrameIsRawMessageBytes) {
  const auto packet = decode_binary_frame("\x01\x02\x03\x04"sv, Revision::v4);
  ASSERT_TRUE(packet);
  EXPECT_EQ(packet->type, PacketType::message);
  EXPECT_TRUE(packet->binary);
  EXPECT_EQ(packet->data, "\x01\x02\x03\x04"sv);
}

TEST(DecodeBinaryFrame, V4EmptyFrameIsEmptyMessage) {
  const auto packet = decode_binary_frame("", Revision::v4);
  ASSERT_TRUE(packet);
  EXPECT_EQ(packet->type, PacketType::message);
  EXPECT_TRUE(packet->data.empty());
}

TEST(DecodeBinaryFrame, V3FrameStartsWithTypeByte) {
  const auto packet = decode_binary_frame("\x04\x01\x02\x03\x04"sv, Revision::v3);
  ASSERT_TRUE(packet);
  EXPECT_EQ(packet->type, PacketType::message);
  EXPECT_TRUE(packet->binary);
  EXPECT_EQ(packet->data, "\x01\x02\x03\x04"sv);

  const auto type_only = decode_binary_frame("\x04"sv, Revision::v3);
  ASSERT_TRUE(type_only);
  EXPECT_TRUE(type_only->data.empty());
}

TEST(DecodeBinaryFrame, V3ReportsOtherTypeBytes) {
  const auto packet = decode_binary_frame("\x02probe"sv, Revision::v3);
  ASSERT_TRUE(packet);
  EXPECT_EQ(packet->type, PacketType::ping);
  EXPECT_TRUE(packet->binary);
  EXPECT_EQ(packet->data, "probe");
}

TEST(DecodeBinaryFrame, V3RejectsEmptyAndUnknownTypeBytes) {
  EXPECT_FALSE(decode_binary_frame("", Revision::v3));
  EXPECT_FALSE(decode_binary_frame("\x07\x01"sv, Revision::v3));
  EXPECT_FALSE(decode_binary_frame("\xff"sv, Revision::v3));
  EXPECT_FALSE(decode_binary_frame("4hello", Revision::v3));  // ASCII digit, not the type byte
}

TEST(MakeTextPacket, BuildsTextFrame) {
  const SharedPacket packet = make_text_packet(PacketType::message, "hello");
  EXPECT_EQ(packet->type, PacketType::message);
  EXPECT_FALSE(packet->binary);
  EXPECT_EQ(packet->header_size, 2);
  EXPECT_EQ(packet->frame, "\x81\x06" "4hello"sv);
  EXPECT_EQ(packet->packet_bytes(), "4hello");
}

TEST(MakeTextPacket, TypeOnlyPacket) {
  const SharedPacket packet = make_text_packet(PacketType::noop);
  EXPECT_EQ(packet->type, PacketType::noop);
  EXPECT_EQ(packet->frame, "\x81\x01" "6"sv);
  EXPECT_EQ(packet->packet_bytes(), "6");
}

TEST(MakeTextPacket, UsesExtendedLengthHeaders) {
  const std::string medium(199, 'x');
  const SharedPacket packet = make_text_packet(PacketType::message, medium);
  EXPECT_EQ(packet->header_size, 4);
  EXPECT_EQ(packet->frame.substr(0, 4), "\x81\x7e\x00\xc8"sv);
  EXPECT_EQ(packet->packet_bytes(), "4" + medium);
  EXPECT_EQ(packet->frame.size(), 4 + 200u);

  const std::string large(70'000, 'y');
  const SharedPacket big = make_text_packet(PacketType::message, large);
  EXPECT_EQ(big->header_size, 10);
  EXPECT_EQ(big->frame.substr(0, 10), "\x81\x7f\x00\x00\x00\x00\x00\x01\x11\x71"sv);
  EXPECT_EQ(big->packet_bytes(), "4" + large);
}

TEST(MakeTextPacket, LargestShortLengthKeepsTwoByteHeader) {
  const SharedPacket packet = make_text_packet(PacketType::message, std::string(124, 'z'));
  EXPECT_EQ(packet->header_size, 2);
  EXPECT_EQ(packet->frame.substr(0, 2), "\x81\x7d"sv);
}

TEST(MakeBinaryPacket, BuildsBinaryFrameOfRawBytes) {
  const SharedPacket packet = make_binary_packet("\x01\x02\x03\x04"sv);
  EXPECT_EQ(packet->type, PacketType::message);
  EXPECT_TRUE(packet->binary);
  EXPECT_EQ(packet->header_size, 2);
  EXPECT_EQ(packet->frame, "\x82\x04\x01\x02\x03\x04"sv);
  EXPECT_EQ(packet->packet_bytes(), "\x01\x02\x03\x04"sv);
}

TEST(MakeBinaryPacket, EmptyBytes) {
  const SharedPacket packet = make_binary_packet("");
  EXPECT_EQ(packet->frame, "\x82\x00"sv);
  EXPECT_TRUE(packet->packet_bytes().empty());
}

TEST(MakeBinaryPacket, FrameDecodesBackAsV4Frame) {
  const SharedPacket packet = make_binary_packet("\x00\xff\x10"sv);
  const auto decoded = decode_binary_frame(packet->packet_bytes(), Revision::v4);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->data, "\x00\xff\x10"sv);
}

TEST(AppendV3BinaryFrame, PrefixesTypeByteAndAppends) {
  const SharedPacket packet = make_binary_packet("\x01\x02\x03\x04"sv);
  std::string out = "before";
  append_v3_binary_frame(*packet, out);
  EXPECT_EQ(out, "before\x82\x05\x04\x01\x02\x03\x04"sv);

  const auto decoded = decode_binary_frame(std::string_view(out).substr(8), Revision::v3);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->type, PacketType::message);
  EXPECT_EQ(decoded->data, "\x01\x02\x03\x04"sv);
}

TEST(AppendV3BinaryFrame, TypeByteCountsTowardsFrameLength) {
  const SharedPacket packet = make_binary_packet(std::string(125, '\x01'));
  std::string out;
  append_v3_binary_frame(*packet, out);
  ASSERT_EQ(out.size(), 4 + 126u);
  EXPECT_EQ(out.substr(0, 5), "\x82\x7e\x00\x7e\x04"sv);
}

}  // namespace
}  // namespace iogate::eio
