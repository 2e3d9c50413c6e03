// Feeds arbitrary bytes to the WebSocket frame parser twice, whole and in chunks of sizes derived
// from the input, and checks that both runs agree and that every delivered event is well-formed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.h"
#include "net/ws/frame.h"

namespace {

using iogate::net::ws::FrameHandler;
using iogate::net::ws::FrameParser;

constexpr std::size_t kMaxMessageSize = 4096;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

class CheckingHandler final : public FrameHandler {
 public:
  void on_message(bool binary, std::string_view payload) override {
    check(payload.size() <= kMaxMessageSize);
    check(binary || iogate::core::is_valid_utf8(payload));
    record(binary ? 'b' : 't', payload);
  }
  void on_ping(std::string_view payload) override {
    check(payload.size() <= 125);
    record('i', payload);
  }
  void on_pong(std::string_view payload) override {
    check(payload.size() <= 125);
    record('o', payload);
  }
  void on_close(std::uint16_t code, std::string_view reason) override {
    check(!closed_);
    check(reason.size() <= 123);
    check(iogate::core::is_valid_utf8(reason));
    check(code == 1005 ? reason.empty()
                       : (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                             (code >= 3000 && code <= 4999));
    closed_ = true;
    record('c', std::string(1, static_cast<char>(code >> 8)) + static_cast<char>(code) + std::string(reason));
  }

  bool closed() const { return closed_; }
  const std::vector<std::string>& events() const { return events_; }

 private:
  void record(char kind, std::string_view payload) {
    check(!closed_ || kind == 'c');
    events_.push_back(kind + std::string(payload));
  }

  bool closed_ = false;
  std::vector<std::string> events_;
};

struct Run {
  std::vector<std::string> events;
  std::size_t consumed = 0;
  bool failed = false;
  std::uint16_t close_code = 0;
};

// Splits the stream with a xorshift generator seeded from the input, so the fuzzer explores
// frame boundaries that fall anywhere in a read.
class ChunkSizes {
 public:
  explicit ChunkSizes(std::string_view input) {
    for (char c : input) {
      state_ = (state_ ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
    }
  }
  std::size_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return 1 + state_ % (state_ & 1 ? 16 : 512);
  }

 private:
  std::uint64_t state_ = 0xCBF29CE484222325ULL;
};

Run run(std::string_view input, bool chunked) {
  FrameParser parser(kMaxMessageSize);
  CheckingHandler handler;
  ChunkSizes sizes(input);
  std::string buffer;
  Run result;
  for (std::size_t pos = 0; pos < input.size();) {
    const std::size_t chunk = chunked ? sizes.next() : input.size();
    buffer.append(input.substr(pos, chunk));
    pos += chunk;
    // An allocation of exactly the buffered size, so AddressSanitizer sees any read past it.
    const std::unique_ptr<char[]> exact(new char[buffer.size()]);
    std::memcpy(exact.get(), buffer.data(), buffer.size());
    const auto parsed = parser.consume(exact.get(), buffer.size(), handler);
    check(parsed.consumed <= buffer.size());
    // Bytes kept for the next call must be untouched (a failed frame may be left unmasked).
    check(parsed.failed || std::memcmp(exact.get() + parsed.consumed, buffer.data() + parsed.consumed,
                                       buffer.size() - parsed.consumed) == 0);
    result.consumed += parsed.consumed;
    if (parsed.failed) {
      result.failed = true;
      result.close_code = static_cast<std::uint16_t>(parsed.close_code);
      check(!handler.closed());
      break;
    }
    if (handler.closed()) {
      break;
    }
    buffer.erase(0, parsed.consumed);
  }
  result.events = handler.events();
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Run whole = run(input, false);
  const Run chunked = run(input, true);
  check(whole.events == chunked.events);
  check(whole.consumed == chunked.consumed);
  check(whole.failed == chunked.failed);
  check(whole.close_code == chunked.close_code);
  if (whole.failed) {
    check(whole.close_code == 1002 || whole.close_code == 1007 || whole.close_code == 1009);
  }
  return 0;
}
