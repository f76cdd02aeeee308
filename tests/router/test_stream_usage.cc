// Usage on every stream (router/stream_usage.h): where the include_usage
// member is spliced, which event is the usage-only chunk, and the filter
// that keeps it from the client however the stream is cut into pieces.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "router/stream_usage.h"

using namespace radixmesh::router;

namespace {

const std::string kChunk1 =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\" foo\"},\"finish_reason\":null}]}\n\n";
const std::string kChunk2 =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\" bar\"},\"finish_reason\":\"length\"}]}\n\n";
const std::string kUsage =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{"
    "\"prompt_tokens\":40,\"completion_tokens\":2,\"total_tokens\":42,"
    "\"prompt_tokens_details\":{\"cached_tokens\":32}}}\n\n";
const std::string kDone = "data: [DONE]\n\n";

// Feeds `stream` to a filter in pieces of `piece` bytes (the last one marked
// last) and returns what the client would get.
std::string run(UsageChunkFilter& f, const std::string& stream, size_t piece) {
  std::string out;
  for (size_t i = 0; i < stream.size(); i += piece) {
    const bool last = i + piece >= stream.size();
    out += f.filter(std::string_view(stream).substr(i, piece), last);
  }
  return out;
}

}  // namespace

TEST_CASE("stream usage: the member goes right after the opening brace") {
  CHECK(include_usage_offset("{\"stream\":true}") == 1);
  CHECK(include_usage_offset("  \n\t{\"a\":1}") == 5);
  CHECK_FALSE(include_usage_offset("[1,2]").has_value());
  CHECK_FALSE(include_usage_offset("   ").has_value());
  CHECK_FALSE(include_usage_offset("").has_value());
  // The spliced body is valid JSON with the member first.
  const std::string body = " {\"model\":\"m\",\"stream\":true}";
  const size_t at = *include_usage_offset(body);
  const std::string spliced =
      body.substr(0, at) + std::string(kIncludeUsageMember) + body.substr(at);
  CHECK(spliced ==
        " {\"stream_options\":{\"include_usage\":true},\"model\":\"m\",\"stream\":true}");
}

TEST_CASE(
    "stream usage: only a data event with empty choices and a usage object is the usage chunk") {
  CHECK(is_usage_only_event(kUsage));
  CHECK(is_usage_only_event("data:{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\r\n\r\n"));
  // Split over two data lines: joined with a newline, still JSON.
  CHECK(is_usage_only_event("data: {\"choices\":[],\ndata: \"usage\":{}}\n\n"));
  CHECK_FALSE(is_usage_only_event(kChunk1));
  // usage null (vLLM 0.5 on every chunk), or choices not empty: a content chunk.
  CHECK_FALSE(is_usage_only_event("data: {\"choices\":[],\"usage\":null}\n\n"));
  CHECK_FALSE(is_usage_only_event(
      "data: {\"choices\":[{\"index\":0,\"delta\":{}}],\"usage\":{\"prompt_tokens\":1}}\n\n"));
  // Generated text that mentions usage is inside a string: not a usage object.
  CHECK_FALSE(is_usage_only_event(
      "data: {\"choices\":[{\"delta\":{\"content\":\"\\\"usage\\\":{}\"}}]}\n\n"));
  CHECK_FALSE(is_usage_only_event("event: ping\n\n"));
  CHECK_FALSE(is_usage_only_event("data: not json \"usage\"\n\n"));
}

TEST_CASE("stream usage filter: the usage chunk is dropped, every other byte kept, in any cut") {
  const std::string stream = kChunk1 + kChunk2 + kUsage + kDone;
  const std::string expected = kChunk1 + kChunk2 + kDone;
  for (size_t piece : {stream.size(), kChunk1.size(), size_t{1}, size_t{2}, size_t{7}, size_t{64},
                       size_t{100}, size_t{333}}) {
    CAPTURE(piece);
    UsageChunkFilter f;
    f.reset(true);
    CHECK(run(f, stream, piece) == expected);
    CHECK(f.dropped_usage());
    CHECK_FALSE(f.saw_other_usage());
  }
}

TEST_CASE("stream usage filter: whole events without usage pass without a copy") {
  UsageChunkFilter f;
  f.reset(true);
  const std::string piece = kChunk1 + kChunk2;
  const std::string_view out = f.filter(piece, false);
  CHECK(out.data() == piece.data());  // the caller's own bytes
  CHECK(out.size() == piece.size());
}

TEST_CASE("stream usage filter: disabled passes everything, usage included") {
  UsageChunkFilter f;
  f.reset(false);
  const std::string stream = kChunk1 + kUsage + kDone;
  CHECK(run(f, stream, 5) == stream);
  CHECK_FALSE(f.dropped_usage());
}

TEST_CASE("stream usage filter: usage inside other chunks is kept and reported") {
  // As vLLM 0.5 sends with include_usage: "usage": null on every chunk.
  const std::string c1 =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n";
  UsageChunkFilter f;
  f.reset(true);
  const std::string stream = c1 + c1 + kUsage + kDone;
  CHECK(run(f, stream, 9) == c1 + c1 + kDone);
  CHECK(f.saw_other_usage());
  f.reset(true);
  CHECK_FALSE(f.saw_other_usage());  // per response
}

TEST_CASE("stream usage filter: CRLF events, and an unterminated end is released") {
  const std::string c = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\r\n\r\n";
  const std::string u = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\r\n\r\n";
  UsageChunkFilter f;
  f.reset(true);
  CHECK(run(f, c + u + "data: [DONE]", 4) == c + "data: [DONE]");
  CHECK(f.dropped_usage());
}

TEST_CASE("stream usage filter: an event longer than the hold bound streams through") {
  std::string big = "data: {\"choices\":[{\"delta\":{\"content\":\"";
  big.append(3 * UsageChunkFilter::kMaxHeldBytes, 'z');
  big += "\"}}],\"usage\":null}\n\n";
  const std::string stream = big + kUsage + kDone;
  UsageChunkFilter f;
  f.reset(true);
  std::string out;
  size_t max_piece_out = 0;
  for (size_t i = 0; i < stream.size(); i += 1000) {
    const std::string_view o =
        f.filter(std::string_view(stream).substr(i, 1000), i + 1000 >= stream.size());
    max_piece_out = std::max(max_piece_out, o.size());
    out += o;
  }
  CHECK(out == big + kDone);
  // Held at most the bound (plus one piece) before it went out.
  CHECK(max_piece_out <= UsageChunkFilter::kMaxHeldBytes + 1000);
  // The long event's tail is not mistaken for anything: no "other usage"
  // from the part that was let through unchecked.
  CHECK(f.dropped_usage());
}
