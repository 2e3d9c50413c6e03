#include "net/http.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iogate::net {
namespace {

struct Target {
  bool ok = false;
  std::string path;
  NameValueList query;
};

Target parse(std::string_view target) {
  Target result;
  result.ok = parse_target(target, result.path, result.query);
  return result;
}

NameValueList pairs(std::initializer_list<std::pair<const char*, const char*>> list) {
  NameValueList out;
  for (const auto& [name, value] : list) {
    out.emplace_back(name, value);
  }
  return out;
}

// ---- percent_decode ---------------------------------------------------------------------------

TEST(PercentDecode, DecodesEscapesInEitherCase) {
  std::string out;
  ASSERT_TRUE(percent_decode("a%20b%2fc%2F%7e%7E", out, false));
  EXPECT_EQ(out, "a b/c/~~");
}

TEST(PercentDecode, DecodesEveryByteValue) {
  std::string out;
  ASSERT_TRUE(percent_decode("%00%FF%80", out, false));
  EXPECT_EQ(out, std::string("\x00\xFF\x80", 3));
}

TEST(PercentDecode, PlusIsSpaceOnlyWhenAsked) {
  std::string out;
  ASSERT_TRUE(percent_decode("a+b%2B", out, true));
  EXPECT_EQ(out, "a b+");
  ASSERT_TRUE(percent_decode("a+b%2B", out, false));
  EXPECT_EQ(out, "a+b+");
}

TEST(PercentDecode, RejectsBadEscapes) {
  std::string out;
  EXPECT_FALSE(percent_decode("%", out, false));
  EXPECT_FALSE(percent_decode("%4", out, false));
  EXPECT_FALSE(percent_decode("abc%4", out, false));
  EXPECT_FALSE(percent_decode("%zz", out, false));
  EXPECT_FALSE(percent_decode("%4g", out, false));
  EXPECT_FALSE(percent_decode("%g4", out, false));
  EXPECT_FALSE(percent_decode("%%41", out, false));
}

TEST(PercentDecode, EscapeAtTheVeryEndIsComplete) {
  std::string out;
  ASSERT_TRUE(percent_decode("ab%41", out, false));
  EXPECT_EQ(out, "abA");
}

TEST(PercentDecode, ReplacesPreviousOutput) {
  std::string out = "stale";
  ASSERT_TRUE(percent_decode("", out, false));
  EXPECT_EQ(out, "");
}

// ---- parse_target: path -------------------------------------------------------------------------

TEST(ParseTarget, PlainPath) {
  auto t = parse("/socket.io/");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.path, "/socket.io/");
  EXPECT_TRUE(t.query.empty());
}

TEST(ParseTarget, PathEscapesAreDecodedButPlusIsNot) {
  auto t = parse("/a%20b/c%2Fd/e+f/%E2%82%AC");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.path, "/a b/c/d/e+f/\xE2\x82\xAC");
}

TEST(ParseTarget, EscapedQuestionMarkStaysInThePath) {
  auto t = parse("/a%3Fb=c");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.path, "/a?b=c");
  EXPECT_TRUE(t.query.empty());
}

TEST(ParseTarget, BadEscapeInPathFails) {
  EXPECT_FALSE(parse("/a%zz").ok);
  EXPECT_FALSE(parse("/a%2").ok);
  EXPECT_FALSE(parse("/%").ok);
  EXPECT_FALSE(parse("/a%2?x=1").ok);
  EXPECT_FALSE(parse("/%G0/?EIO=4").ok);
}

TEST(ParseTarget, NonOriginFormIsRejected) {
  EXPECT_FALSE(parse("").ok);
  EXPECT_FALSE(parse("*").ok);
  EXPECT_FALSE(parse("http://example.com/socket.io/").ok);
  EXPECT_FALSE(parse("example.com:443").ok);
  EXPECT_FALSE(parse("socket.io/?EIO=4").ok);
  EXPECT_FALSE(parse("?EIO=4").ok);
  EXPECT_FALSE(parse(" /").ok);
}

TEST(ParseTarget, FailureLeavesNoStaleQuery) {
  Target t;
  ASSERT_TRUE(parse_target("/?a=1", t.path, t.query));
  ASSERT_EQ(t.query.size(), 1U);
  EXPECT_FALSE(parse_target("*", t.path, t.query));
  EXPECT_TRUE(t.query.empty());
}

// ---- parse_target: query ------------------------------------------------------------------------

TEST(ParseTarget, QueryInOrder) {
  auto t = parse("/socket.io/?EIO=4&transport=polling&t=OxYz1");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.path, "/socket.io/");
  EXPECT_EQ(t.query, pairs({{"EIO", "4"}, {"transport", "polling"}, {"t", "OxYz1"}}));
}

TEST(ParseTarget, QueryPlusIsSpaceAndEscapesDecode) {
  auto t = parse("/?name=John+Smith&op=1%2B1&k%20ey=v%3Dw&amp=%26");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.query, pairs({{"name", "John Smith"}, {"op", "1+1"}, {"k ey", "v=w"}, {"amp", "&"}}));
}

TEST(ParseTarget, RepeatedKeysAreAllKeptFirstWins) {
  HttpRequest request;
  ASSERT_TRUE(parse_target("/?sid=a&x=1&sid=b", request.path, request.query));
  EXPECT_EQ(request.query, pairs({{"sid", "a"}, {"x", "1"}, {"sid", "b"}}));
  ASSERT_NE(request.query_param("sid"), nullptr);
  EXPECT_EQ(*request.query_param("sid"), "a");
  EXPECT_EQ(request.query_param("missing"), nullptr);
}

TEST(ParseTarget, EmptyPairsAreSkipped) {
  auto t = parse("/?&&a=1&&b=2&");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.query, pairs({{"a", "1"}, {"b", "2"}}));
}

TEST(ParseTarget, EmptyQuery) {
  auto t = parse("/x?");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.path, "/x");
  EXPECT_TRUE(t.query.empty());
}

TEST(ParseTarget, KeysWithoutValueOrName) {
  auto t = parse("/?b64&flag=&=v&==");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.query, pairs({{"b64", ""}, {"flag", ""}, {"", "v"}, {"", "="}}));
}

TEST(ParseTarget, OnlyTheFirstEqualsSplits) {
  auto t = parse("/?token=abc==&x=a=b");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.query, pairs({{"token", "abc=="}, {"x", "a=b"}}));
}

TEST(ParseTarget, FragmentAfterQueryIsDropped) {
  auto t = parse("/p?a=1&b=2#frag&c=3");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.path, "/p");
  EXPECT_EQ(t.query, pairs({{"a", "1"}, {"b", "2"}}));
}

TEST(ParseTarget, FragmentWithoutQueryIsDropped) {
  auto t = parse("/socket.io/#top");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.path, "/socket.io/");
  EXPECT_TRUE(t.query.empty());
}

TEST(ParseTarget, QuestionMarkInsideFragmentStartsNoQuery) {
  auto t = parse("/p#x?a=1");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.path, "/p");
  EXPECT_TRUE(t.query.empty());
}

TEST(ParseTarget, BadEscapeInFragmentIsIgnored) {
  auto t = parse("/p?a=1#%zz");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.query, pairs({{"a", "1"}}));
}

TEST(ParseTarget, EscapedHashIsData) {
  auto t = parse("/p%23q?a=%23");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.path, "/p#q");
  EXPECT_EQ(t.query, pairs({{"a", "#"}}));
}

TEST(ParseTarget, BadEscapesInQueryAreKeptLiterally) {
  auto t = parse("/?a=%zz&b=100%&c=%4&%=x&d=%g1");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.query, pairs({{"a", "%zz"}, {"b", "100%"}, {"c", "%4"}, {"%", "x"}, {"d", "%g1"}}));
}

// Node's querystring falls back to unescapeBuffer: good escapes and '+' still decode.
TEST(ParseTarget, BadEscapeDoesNotStopTheRestOfTheValueDecoding) {
  auto t = parse("/?a=%zz%41+b&b=50%25+%");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.query, pairs({{"a", "%zzA b"}, {"b", "50% %"}}));
}

TEST(ParseTarget, QueryAndPathAreIndependentlyDecoded) {
  auto t = parse("/a+b?c+d=e+f");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.path, "/a+b");
  EXPECT_EQ(t.query, pairs({{"c d", "e f"}}));
}

// ---- serialize_response -------------------------------------------------------------------------

TEST(SerializeResponse, StatusLineHeadersLengthAndBody) {
  HttpResponse response{.status = 200, .headers = {{"Content-Type", "text/plain"}, {"X-A", "b"}}, .body = "hello"};
  std::string out;
  serialize_response(response, true, out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain\r\n"
            "X-A: b\r\n"
            "Content-Length: 5\r\n"
            "Connection: keep-alive\r\n"
            "\r\n"
            "hello");
}

TEST(SerializeResponse, EmptyBodyStillHasContentLength) {
  HttpResponse response{.status = 400, .headers = {}, .body = ""};
  std::string out;
  serialize_response(response, true, out);
  EXPECT_EQ(out, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
}

TEST(SerializeResponse, CloseWhenNotKeepAlive) {
  HttpResponse response{.status = 404, .headers = {}, .body = "Not Found"};
  std::string out;
  serialize_response(response, false, out);
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nNot Found");
}

TEST(SerializeResponse, CloseWhenTheResponseAsksForIt) {
  HttpResponse response{.status = 403, .headers = {}, .body = "{}", .close = true};
  std::string out;
  serialize_response(response, true, out);
  EXPECT_EQ(out, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
}

TEST(SerializeResponse, NoContentHasNoLength) {
  HttpResponse response{.status = 204, .headers = {{"Access-Control-Allow-Origin", "*"}}, .body = ""};
  std::string out;
  serialize_response(response, true, out);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nConnection: keep-alive\r\n\r\n");
}

TEST(SerializeResponse, SwitchingProtocolsHasNeitherLengthNorConnection) {
  HttpResponse response{.status = 101,
                        .headers = {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}},
                        .body = ""};
  std::string out;
  serialize_response(response, true, out);
  EXPECT_EQ(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
}

TEST(SerializeResponse, UnknownStatusAndLargeBody) {
  HttpResponse response{.status = 418, .headers = {}, .body = std::string(123456, 'x')};
  std::string out;
  serialize_response(response, true, out);
  EXPECT_EQ(out.rfind("HTTP/1.1 418 Unknown\r\nContent-Length: 123456\r\n", 0), 0U);
  EXPECT_EQ(out.size(), out.find("\r\n\r\n") + 4 + 123456);
}

TEST(SerializeResponse, AppendsToTheBuffer) {
  HttpResponse response{.status = 200, .headers = {}, .body = "x"};
  std::string out = "previous";
  serialize_response(response, true, out);
  EXPECT_EQ(out.rfind("previousHTTP/1.1 200 OK\r\n", 0), 0U);
}

TEST(ReasonPhrase, KnownAndUnknown) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(413), "Payload Too Large");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(reason_phrase(299), "Unknown");
}

// ---- HttpRequest lookups ------------------------------------------------------------------------

TEST(HttpRequest, HeaderLookupTakesTheFirst) {
  HttpRequest request;
  request.headers = pairs({{"cookie", "a=1"}, {"origin", "x"}, {"cookie", "b=2"}});
  ASSERT_NE(request.header("cookie"), nullptr);
  EXPECT_EQ(*request.header("cookie"), "a=1");
  EXPECT_EQ(request.header("Cookie"), nullptr);
  EXPECT_EQ(request.header("host"), nullptr);
}

}  // namespace
}  // namespace iogate::net

namespace iogate::net {
namespace {

TEST(PackedNameValues, KeepsEntriesInOrderAndFindsTheFirst) {
  const NameValueList list{{"host", "localhost:3000"}, {"", ""}, {"cookie", "a=1"}, {"cookie", "b=2"}};
  const PackedNameValues packed(list);
  ASSERT_EQ(packed.size(), 4u);
  std::vector<std::pair<std::string, std::string>> back;
  for (const auto& [name, value] : packed) {
    back.emplace_back(name, value);
  }
  EXPECT_EQ(back, list);
  EXPECT_EQ(packed.find("cookie"), "a=1");
  EXPECT_EQ(packed.find(""), "");
  EXPECT_EQ(packed.find("Host"), std::nullopt);
  EXPECT_TRUE(PackedNameValues{}.empty());
  const PackedNameValues braced{{"EIO", "4"}, {"transport", "websocket"}};
  EXPECT_EQ(braced[1], (PackedNameValues::Entry{"transport", "websocket"}));
}

}  // namespace
}  // namespace iogate::net
