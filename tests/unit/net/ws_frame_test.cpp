#include "net/ws/frame.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/utf8.h"

namespace iogate::net::ws {
namespace {

constexpr std::array<unsigned char, 4> kMask = {0x37, 0xFA, 0x21, 0x3D};
constexpr std::uint8_t kFin = 0x80;

std::uint8_t final_frame(Opcode opcode) { return kFin | static_cast<std::uint8_t>(opcode); }
std::uint8_t non_final(Opcode opcode) { return static_cast<std::uint8_t>(opcode); }

enum class LengthForm { minimal, bits16, bits64 };

// A client frame header: first byte, mask bit + length, extended length, masking key.
std::string client_header(std::uint8_t first_byte, std::uint64_t length,
                          LengthForm form = LengthForm::minimal, bool masked = true) {
  if (form == LengthForm::minimal) {
    form = length <= 125 ? LengthForm::minimal : length <= 0xFFFF ? LengthForm::bits16 : LengthForm::bits64;
  }
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  std::string out(1, static_cast<char>(first_byte));
  if (form == LengthForm::minimal) {
    out.push_back(static_cast<char>(mask_bit | static_cast<char>(length)));
  } else if (form == LengthForm::bits16) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(length >> 8));
    out.push_back(static_cast<char>(length));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>(length >> shift));
    }
  }
  if (masked) {
    out.append(reinterpret_cast<const char*>(kMask.data()), kMask.size());
  }
  return out;
}

std::string client_frame(std::uint8_t first_byte, std::string_view payload,
                         LengthForm form = LengthForm::minimal, bool masked = true) {
  std::string out = client_header(first_byte, payload.size(), form, masked);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out.push_back(static_cast<char>(payload[i] ^ (masked ? kMask[i % 4] : 0)));
  }
  return out;
}

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string out{static_cast<char>(code >> 8), static_cast<char>(code)};
  out.append(reason);
  return out;
}

class Recorder final : public FrameHandler {
 public:
  void on_message(bool binary, std::string_view payload) override {
    events.push_back((binary ? "binary:" : "text:") + std::string(payload));
    message_data.push_back(payload.data());
  }
  void on_ping(std::string_view payload) override { events.push_back("ping:" + std::string(payload)); }
  void on_pong(std::string_view payload) override { events.push_back("pong:" + std::string(payload)); }
  void on_close(std::uint16_t code, std::string_view reason) override {
    events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
  }

  std::vector<std::string> events;
  std::vector<const char*> message_data;
};

struct Outcome {
  FrameParser::Result result;
  std::vector<std::string> events;
};

Outcome parse(std::string bytes, std::size_t max_message_size = 1 << 20) {
  FrameParser parser(max_message_size);
  Recorder recorder;
  const auto result = parser.consume(bytes.data(), bytes.size(), recorder);
  return {result, recorder.events};
}

void expect_failure(const std::string& bytes, CloseCode code, std::size_t max_message_size = 1 << 20) {
  const Outcome outcome = parse(bytes, max_message_size);
  EXPECT_TRUE(outcome.result.failed);
  EXPECT_EQ(outcome.result.close_code, code);
  EXPECT_TRUE(outcome.events.empty());
}

// Feeds `stream` the way a connection does: append what arrived, consume, keep the rest.
Outcome feed_in_chunks(std::string_view stream, std::size_t chunk, std::size_t max_message_size = 1 << 20) {
  FrameParser parser(max_message_size);
  Recorder recorder;
  std::string buffer;
  Outcome outcome;
  for (std::size_t pos = 0; pos < stream.size(); pos += chunk) {
    buffer.append(stream.substr(pos, chunk));
    outcome.result = parser.consume(buffer.data(), buffer.size(), recorder);
    EXPECT_LE(outcome.result.consumed, buffer.size());
    if (outcome.result.failed) {
      break;
    }
    buffer.erase(0, outcome.result.consumed);
  }
  outcome.events = recorder.events;
  return outcome;
}

TEST(FrameHeader, SizeDependsOnPayloadLength) {
  EXPECT_EQ(frame_header_size(0), 2u);
  EXPECT_EQ(frame_header_size(125), 2u);
  EXPECT_EQ(frame_header_size(126), 4u);
  EXPECT_EQ(frame_header_size(65535), 4u);
  EXPECT_EQ(frame_header_size(65536), 10u);
}

TEST(FrameHeader, AppendsFinalUnmaskedHeaders) {
  std::string out;
  append_frame_header(out, Opcode::text, 5);
  EXPECT_EQ(out, std::string("\x81\x05", 2));
  out.clear();
  append_frame_header(out, Opcode::binary, 126);
  EXPECT_EQ(out, std::string("\x82\x7E\x00\x7E", 4));
  out.clear();
  append_frame_header(out, Opcode::text, 65535);
  EXPECT_EQ(out, std::string("\x81\x7E\xFF\xFF", 4));
  out.clear();
  append_frame_header(out, Opcode::binary, 65536);
  EXPECT_EQ(out, std::string("\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10));
  for (std::size_t size : {0, 125, 126, 65535, 65536, 1 << 20}) {
    out = "prefix";
    append_frame_header(out, Opcode::ping, size);
    EXPECT_EQ(out.size(), 6 + frame_header_size(size));
  }
}

TEST(CloseFrame, AppendsCodeAndReason) {
  std::string out;
  append_close_frame(out, CloseCode::normal);
  EXPECT_EQ(out, std::string("\x88\x02\x03\xE8", 4));
  out.clear();
  append_close_frame(out, CloseCode::going_away, "bye");
  EXPECT_EQ(out, std::string("\x88\x05\x03\xE9" "bye", 7));
}

TEST(CloseFrame, TruncatesReasonToFitAControlFrame) {
  std::string out;
  append_close_frame(out, CloseCode::policy_violation, std::string(300, 'r'));
  ASSERT_EQ(out.size(), 2u + 125u);
  EXPECT_EQ(static_cast<unsigned char>(out[1]), 125);
  EXPECT_EQ(out.substr(4), std::string(123, 'r'));
}

TEST(CloseFrame, TruncatesReasonOnACodePointBoundary) {
  // 122 ASCII bytes then "€": keeping 123 bytes would split the euro sign.
  const std::string reason = std::string(122, 'r') + "\xe2\x82\xac";
  std::string out;
  append_close_frame(out, CloseCode::internal_error, reason);
  const std::string kept = out.substr(4);
  EXPECT_EQ(kept, std::string(122, 'r'));
  EXPECT_TRUE(core::is_valid_utf8(kept));
}

TEST(CloseFrame, IsAcceptedByTheParserOnceMasked) {
  std::string frame;
  append_close_frame(frame, CloseCode::going_away, "shutting down");
  const std::string payload = frame.substr(2);
  const Outcome outcome = parse(client_frame(final_frame(Opcode::close), payload));
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.events, std::vector<std::string>{"close:1001:shutting down"});
}

TEST(AcceptKey, MatchesRfcExample) {
  EXPECT_EQ(compute_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(FrameParser, DeliversUnfragmentedTextAsViewIntoTheBuffer) {
  std::string bytes = client_frame(final_frame(Opcode::text), "Hello");
  FrameParser parser(1024);
  Recorder recorder;
  const auto result = parser.consume(bytes.data(), bytes.size(), recorder);
  EXPECT_FALSE(result.failed);
  EXPECT_EQ(result.consumed, bytes.size());
  ASSERT_EQ(recorder.events, std::vector<std::string>{"text:Hello"});
  EXPECT_EQ(recorder.message_data[0], bytes.data() + 6);
  EXPECT_EQ(bytes.substr(6), "Hello");  // unmasked in place
}

TEST(FrameParser, DeliversBinaryAndEmptyMessages) {
  const std::string binary("\x00\xff\xc0\x80", 4);
  const Outcome outcome = parse(client_frame(final_frame(Opcode::binary), binary) +
                                client_frame(final_frame(Opcode::text), "") +
                                client_frame(final_frame(Opcode::binary), ""));
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.events, (std::vector<std::string>{"binary:" + binary, "text:", "binary:"}));
}

TEST(FrameParser, UnmasksEveryLengthAndAlignment) {
  for (std::size_t length = 0; length <= 40; ++length) {
    std::string payload;
    for (std::size_t i = 0; i < length; ++i) {
      payload.push_back(static_cast<char>('a' + i % 26));
    }
    for (std::size_t offset = 0; offset < 8; ++offset) {
      std::string bytes = std::string(offset, 'x') + client_frame(final_frame(Opcode::text), payload);
      FrameParser parser(1024);
      Recorder recorder;
      const auto result = parser.consume(bytes.data() + offset, bytes.size() - offset, recorder);
      EXPECT_FALSE(result.failed);
      EXPECT_EQ(recorder.events, std::vector<std::string>{"text:" + payload}) << length << ' ' << offset;
    }
  }
}

TEST(FrameParser, ReadsSixteenBitLengths) {
  for (std::size_t length : {126, 1000, 65535}) {
    const std::string payload(length, 'p');
    const Outcome outcome = parse(client_frame(final_frame(Opcode::binary), payload));
    EXPECT_FALSE(outcome.result.failed);
    EXPECT_EQ(outcome.events, std::vector<std::string>{"binary:" + payload});
  }
}

TEST(FrameParser, ReadsSixtyFourBitLengths) {
  const std::string payload(70'000, 'q');
  const std::string bytes = client_frame(final_frame(Opcode::text), payload);
  ASSERT_EQ(static_cast<unsigned char>(bytes[1]), 0xFF);
  const Outcome outcome = parse(bytes);
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.result.consumed, bytes.size());
  EXPECT_EQ(outcome.events, std::vector<std::string>{"text:" + payload});
}

TEST(FrameParser, AcceptsNonMinimalLengthEncodings) {
  const Outcome outcome = parse(client_frame(final_frame(Opcode::text), "abc", LengthForm::bits16) +
                                client_frame(final_frame(Opcode::text), "def", LengthForm::bits64));
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.events, (std::vector<std::string>{"text:abc", "text:def"}));
}

TEST(FrameParser, RejectsSixtyFourBitLengthWithMostSignificantBitSet) {
  expect_failure(client_header(final_frame(Opcode::binary), std::uint64_t{1} << 63), CloseCode::protocol_error);
  expect_failure(client_header(final_frame(Opcode::binary), ~std::uint64_t{0}), CloseCode::protocol_error);
}

TEST(FrameParser, RequiresMasking) {
  expect_failure(client_frame(final_frame(Opcode::text), "hi", LengthForm::minimal, false),
                 CloseCode::protocol_error);
  expect_failure(client_frame(final_frame(Opcode::ping), "", LengthForm::minimal, false),
                 CloseCode::protocol_error);
}

TEST(FrameParser, RejectsReservedBits) {
  for (std::uint8_t rsv : {0x40, 0x20, 0x10, 0x70}) {
    expect_failure(client_frame(final_frame(Opcode::text) | rsv, "hi"), CloseCode::protocol_error);
  }
}

TEST(FrameParser, RejectsUnknownOpcodes) {
  for (std::uint8_t opcode : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    expect_failure(client_frame(kFin | opcode, "x"), CloseCode::protocol_error);
  }
}

TEST(FrameParser, RejectsOversizedControlFrames) {
  const Outcome ok = parse(client_frame(final_frame(Opcode::ping), std::string(125, 'p')));
  EXPECT_FALSE(ok.result.failed);
  EXPECT_EQ(ok.events, std::vector<std::string>{"ping:" + std::string(125, 'p')});
  expect_failure(client_frame(final_frame(Opcode::ping), std::string(126, 'p')), CloseCode::protocol_error);
  expect_failure(client_frame(final_frame(Opcode::pong), std::string(200, 'p')), CloseCode::protocol_error);
  expect_failure(client_frame(final_frame(Opcode::close), close_payload(1000, std::string(124, 'r'))),
                 CloseCode::protocol_error);
  // Detected from the first two bytes, before the rest of the frame arrives.
  expect_failure(client_header(final_frame(Opcode::ping), 126).substr(0, 2), CloseCode::protocol_error);
}

TEST(FrameParser, RejectsFragmentedControlFrames) {
  for (Opcode opcode : {Opcode::ping, Opcode::pong, Opcode::close}) {
    expect_failure(client_frame(non_final(opcode), ""), CloseCode::protocol_error);
  }
}

TEST(FrameParser, RejectsContinuationWithoutStart) {
  expect_failure(client_frame(final_frame(Opcode::continuation), "x"), CloseCode::protocol_error);
  expect_failure(client_frame(non_final(Opcode::continuation), "x"), CloseCode::protocol_error);
}

TEST(FrameParser, RejectsContinuationAfterMessageCompleted) {
  const std::string first = client_frame(non_final(Opcode::text), "a") +
                            client_frame(final_frame(Opcode::continuation), "b");
  const Outcome outcome = parse(first + client_frame(final_frame(Opcode::continuation), "c"));
  EXPECT_TRUE(outcome.result.failed);
  EXPECT_EQ(outcome.result.close_code, CloseCode::protocol_error);
  EXPECT_EQ(outcome.result.consumed, first.size());
  EXPECT_EQ(outcome.events, std::vector<std::string>{"text:ab"});
}

TEST(FrameParser, RejectsDataFrameInsideFragmentedMessage) {
  for (std::uint8_t first_byte : {final_frame(Opcode::text), final_frame(Opcode::binary),
                                  non_final(Opcode::text), non_final(Opcode::binary)}) {
    const std::string start = client_frame(non_final(Opcode::text), "a");
    const Outcome outcome = parse(start + client_frame(first_byte, "b"));
    EXPECT_TRUE(outcome.result.failed);
    EXPECT_EQ(outcome.result.close_code, CloseCode::protocol_error);
    EXPECT_EQ(outcome.result.consumed, start.size());
    EXPECT_TRUE(outcome.events.empty());
  }
}

TEST(FrameParser, ReassemblesFragmentedMessages) {
  const Outcome outcome = parse(client_frame(non_final(Opcode::binary), "ab") +
                                client_frame(non_final(Opcode::continuation), "") +
                                client_frame(final_frame(Opcode::continuation), "cd") +
                                client_frame(non_final(Opcode::text), "") +
                                client_frame(final_frame(Opcode::continuation), "ef"));
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.events, (std::vector<std::string>{"binary:abcd", "text:ef"}));
}

TEST(FrameParser, DeliversUnfragmentedMessageAfterFragmentedOneAsView) {
  std::string bytes = client_frame(non_final(Opcode::text), "frag") +
                      client_frame(final_frame(Opcode::continuation), "mented") +
                      client_frame(final_frame(Opcode::text), "whole");
  FrameParser parser(1024);
  Recorder recorder;
  const auto result = parser.consume(bytes.data(), bytes.size(), recorder);
  EXPECT_FALSE(result.failed);
  ASSERT_EQ(recorder.events, (std::vector<std::string>{"text:fragmented", "text:whole"}));
  EXPECT_FALSE(recorder.message_data[0] >= bytes.data() && recorder.message_data[0] < bytes.data() + bytes.size());
  EXPECT_EQ(recorder.message_data[1], bytes.data() + bytes.size() - 5);
}

TEST(FrameParser, DeliversControlFramesInterleavedInFragmentedMessage) {
  const Outcome outcome = parse(client_frame(non_final(Opcode::text), "Hel") +
                                client_frame(final_frame(Opcode::ping), "are you there") +
                                client_frame(non_final(Opcode::continuation), "l") +
                                client_frame(final_frame(Opcode::pong), "yes") +
                                client_frame(final_frame(Opcode::continuation), "o"));
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.events,
            (std::vector<std::string>{"ping:are you there", "pong:yes", "text:Hello"}));
}

TEST(FrameParser, RejectsSingleFrameOverMaximumFromTheHeaderAlone) {
  EXPECT_FALSE(parse(client_frame(final_frame(Opcode::text), std::string(10, 'a')), 10).result.failed);
  expect_failure(client_header(final_frame(Opcode::text), 11), CloseCode::message_too_big, 10);
  expect_failure(client_header(final_frame(Opcode::binary), 70'000), CloseCode::message_too_big, 65'536);
  expect_failure(client_header(final_frame(Opcode::binary), std::uint64_t{1} << 62), CloseCode::message_too_big);
  expect_failure(client_header(non_final(Opcode::binary), 11), CloseCode::message_too_big, 10);
  // Before the masking key arrives.
  expect_failure(client_header(final_frame(Opcode::binary), 70'000).substr(0, 10), CloseCode::message_too_big,
                 65'536);
}

TEST(FrameParser, RejectsAccumulatedFragmentsOverMaximum) {
  const std::string start = client_frame(non_final(Opcode::text), "123456");
  const Outcome ok = parse(start + client_frame(final_frame(Opcode::continuation), "7890"), 10);
  EXPECT_FALSE(ok.result.failed);
  EXPECT_EQ(ok.events, std::vector<std::string>{"text:1234567890"});

  const Outcome too_big = parse(start + client_header(final_frame(Opcode::continuation), 5), 10);
  EXPECT_TRUE(too_big.result.failed);
  EXPECT_EQ(too_big.result.close_code, CloseCode::message_too_big);
  EXPECT_EQ(too_big.result.consumed, start.size());

  const Outcome three = parse(start + client_frame(non_final(Opcode::continuation), "789") +
                                  client_header(final_frame(Opcode::continuation), 2),
                              10);
  EXPECT_TRUE(three.result.failed);
  EXPECT_EQ(three.result.close_code, CloseCode::message_too_big);
}

TEST(FrameParser, ControlFramesAreNotLimitedByMaximumMessageSize) {
  const Outcome outcome = parse(client_frame(final_frame(Opcode::ping), "0123456789"), 4);
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.events, std::vector<std::string>{"ping:0123456789"});
}

TEST(FrameParser, WaitsForPartialFrames) {
  const std::string frame = client_frame(final_frame(Opcode::text), std::string(300, 't'));
  for (std::size_t size = 0; size < frame.size(); ++size) {
    std::string partial = frame.substr(0, size);
    FrameParser parser(1024);
    Recorder recorder;
    const auto result = parser.consume(partial.data(), partial.size(), recorder);
    EXPECT_FALSE(result.failed) << size;
    EXPECT_EQ(result.consumed, 0u) << size;
    EXPECT_TRUE(recorder.events.empty()) << size;
  }
}

TEST(FrameParser, ParsesSeveralFramesInOneBufferAndKeepsTheTail) {
  const std::string whole = client_frame(final_frame(Opcode::text), "one") +
                            client_frame(final_frame(Opcode::ping), "p") +
                            client_frame(final_frame(Opcode::binary), "two");
  const std::string tail = client_frame(final_frame(Opcode::text), "three").substr(0, 7);
  const Outcome outcome = parse(whole + tail);
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.result.consumed, whole.size());
  EXPECT_EQ(outcome.events, (std::vector<std::string>{"text:one", "ping:p", "binary:two"}));
}

const std::string& mixed_stream() {
  static const std::string stream =
      client_frame(final_frame(Opcode::text), "h\xc3\xa9llo") +
      client_frame(final_frame(Opcode::binary), std::string(200, 'b')) +
      client_frame(non_final(Opcode::text), "\xe2\x82") +  // € split across fragments
      client_frame(final_frame(Opcode::ping), "ping") +
      client_frame(final_frame(Opcode::continuation), "\xac!") +
      client_frame(final_frame(Opcode::pong), "") +
      client_frame(final_frame(Opcode::binary), std::string(70'000, 'B')) +
      client_frame(final_frame(Opcode::close), close_payload(1000, "done"));
  return stream;
}

const std::vector<std::string> kMixedEvents = {
    "text:h\xc3\xa9llo",
    "binary:" + std::string(200, 'b'),
    "ping:ping",
    "text:\xe2\x82\xac!",
    "pong:",
    "binary:" + std::string(70'000, 'B'),
    "close:1000:done",
};

TEST(FrameParser, ParsesAStreamInOneCall) {
  const Outcome outcome = parse(mixed_stream());
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.result.consumed, mixed_stream().size());
  EXPECT_EQ(outcome.events, kMixedEvents);
}

TEST(FrameParser, ParsesAStreamDeliveredByteByByte) {
  const Outcome outcome = feed_in_chunks(mixed_stream(), 1);
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.events, kMixedEvents);
}

TEST(FrameParser, ParsesAStreamDeliveredInOddChunks) {
  for (std::size_t chunk : {2, 3, 7, 13, 1000, 4096}) {
    const Outcome outcome = feed_in_chunks(mixed_stream(), chunk);
    EXPECT_FALSE(outcome.result.failed);
    EXPECT_EQ(outcome.events, kMixedEvents) << chunk;
  }
}

TEST(FrameParser, RejectsInvalidUtf8Text) {
  expect_failure(client_frame(final_frame(Opcode::text), "bad \xff"), CloseCode::invalid_payload);
  expect_failure(client_frame(final_frame(Opcode::text), "\xed\xa0\x80"), CloseCode::invalid_payload);
  expect_failure(client_frame(final_frame(Opcode::text), "\xc0\xaf"), CloseCode::invalid_payload);
  expect_failure(client_frame(final_frame(Opcode::text), "cut \xe2\x82"), CloseCode::invalid_payload);
}

TEST(FrameParser, RejectsInvalidUtf8InReassembledText) {
  expect_failure(client_frame(non_final(Opcode::text), "ok") +
                     client_frame(final_frame(Opcode::continuation), "\xe2\x82"),
                 CloseCode::invalid_payload);
  // Binary messages are not checked.
  const Outcome outcome = parse(client_frame(non_final(Opcode::binary), "\xff") +
                                client_frame(final_frame(Opcode::continuation), "\xe2\x82"));
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.events, std::vector<std::string>{"binary:\xff\xe2\x82"});
}

TEST(FrameParser, ReportsEmptyCloseAsNoStatus) {
  const Outcome outcome = parse(client_frame(final_frame(Opcode::close), ""));
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.events, std::vector<std::string>{"close:1005:"});
}

TEST(FrameParser, RejectsOneByteClosePayload) {
  expect_failure(client_frame(final_frame(Opcode::close), "\x03"), CloseCode::protocol_error);
}

TEST(FrameParser, RejectsCloseCodesNotAllowedOnTheWire) {
  for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1012, 1015, 1016, 2000, 2999, 5000, 65535}) {
    expect_failure(client_frame(final_frame(Opcode::close), close_payload(code)), CloseCode::protocol_error);
  }
}

TEST(FrameParser, AcceptsValidCloseCodesWithReason) {
  for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}) {
    const Outcome outcome = parse(client_frame(final_frame(Opcode::close), close_payload(code, "r\xc3\xa9son")));
    EXPECT_FALSE(outcome.result.failed) << code;
    EXPECT_EQ(outcome.events, std::vector<std::string>{"close:" + std::to_string(code) + ":r\xc3\xa9son"});
  }
}

TEST(FrameParser, RejectsCloseReasonThatIsNotUtf8) {
  expect_failure(client_frame(final_frame(Opcode::close), close_payload(1000, "bad \xff")),
                 CloseCode::invalid_payload);
  expect_failure(client_frame(final_frame(Opcode::close), close_payload(1000, "\xed\xbf\xbf")),
                 CloseCode::invalid_payload);
}

TEST(FrameParser, StopsAfterClose) {
  const std::string before = client_frame(final_frame(Opcode::text), "a") +
                             client_frame(final_frame(Opcode::close), close_payload(1000));
  const Outcome outcome = parse(before + client_frame(final_frame(Opcode::text), "after"));
  EXPECT_FALSE(outcome.result.failed);
  EXPECT_EQ(outcome.result.consumed, before.size());
  EXPECT_EQ(outcome.events, (std::vector<std::string>{"text:a", "close:1000:"}));
}

TEST(FrameParser, ReportsFramesConsumedBeforeAFailure) {
  const std::string good = client_frame(final_frame(Opcode::text), "fine") +
                           client_frame(final_frame(Opcode::pong), "p");
  const Outcome outcome = parse(good + client_frame(final_frame(Opcode::text), "\xff"));
  EXPECT_TRUE(outcome.result.failed);
  EXPECT_EQ(outcome.result.close_code, CloseCode::invalid_payload);
  EXPECT_EQ(outcome.result.consumed, good.size());
  EXPECT_EQ(outcome.events, (std::vector<std::string>{"text:fine", "pong:p"}));
}

}  // namespace
}  // namespace iogate::net::ws
