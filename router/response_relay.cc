#include "router/response_relay.h"

#include <array>
#include <span>

#include "router/wire_format.h"

namespace radixmesh::router {
namespace {

// The client response head for the worker's response header in `parser`.
ResponseHead head_for(const http::response_parser<http::buffer_body>& parser,
                      std::string_view worker_url, bool keep_alive, unsigned client_version) {
  const auto& in = parser.get();
  ResponseHead head;
  head.version = client_version;
  head.status = in.result_int();
  head.reason = in.reason();
  head.worker_url = worker_url;
  head.keep_alive = keep_alive;
  const unsigned status = head.status;
  const bool no_body_status = status / 100 == 1 || status == 204 || status == 304;
  if (const auto length = parser.content_length()) {
    head.framing = BodyFraming::kContentLength;
    head.content_length = *length;
  } else if (parser.is_done()) {
    head.framing = no_body_status ? BodyFraming::kNone : BodyFraming::kContentLength;
    head.content_length = 0;
  } else if (client_version >= 11) {
    head.framing = BodyFraming::kChunked;
  } else {
    head.framing = BodyFraming::kClose;  // HTTP/1.0 client: delimit the body by closing
    head.keep_alive = false;
  }
  return head;
}

// Writes every byte of `buffers`, each write_some under its own deadline:
// fails with beast::error::timeout only when the client accepted nothing for
// `stall`.
awaitable<error_code> write_with_progress(ByteStream& client,
                                          std::span<const net::const_buffer> buffers,
                                          std::chrono::milliseconds stall) {
  beast::buffers_suffix<std::span<const net::const_buffer>> rest(buffers);
  while (net::buffer_size(rest) > 0) {
    client.expires_after(stall);
    auto [ec, n] = co_await client.async_write_some(rest, use_tuple);
    if (ec) co_return ec;
    rest.consume(n);
  }
  co_return error_code{};
}

}  // namespace

std::string_view to_string(RelayAbort abort) {
  switch (abort) {
    case RelayAbort::kNone:
      return "none";
    case RelayAbort::kClientStalled:
      return "client_stall";
    case RelayAbort::kMaxDuration:
      return "max_duration";
    case RelayAbort::kMaxBytes:
      return "max_response_bytes";
  }
  return "unknown";
}

awaitable<RelayResult> relay_response(ByteStream& client, ByteStream& upstream,
                                      beast::flat_buffer& upstream_buffer,
                                      http::response_parser<http::buffer_body>& parser,
                                      std::string& head_buffer, std::span<char> buf,
                                      std::string_view worker_url, bool client_keep_alive,
                                      unsigned client_version, const RelayLimits& limits,
                                      UsageTail* usage_tail, UsageChunkFilter* usage_filter) {
  RelayResult result;
  const ResponseHead head = head_for(parser, worker_url, client_keep_alive, client_version);
  const bool chunked = head.framing == BodyFraming::kChunked;
  if (usage_filter && head.framing == BodyFraming::kContentLength) usage_filter->reset(false);
  if (usage_filter && !usage_filter->enabled()) usage_filter = nullptr;
  head_buffer.clear();
  append_response_head(head_buffer, head, parser.get());
  size_t head_bytes = head_buffer.size();  // not yet sent
  uint64_t body_bytes = 0;

  for (;;) {
    size_t got = 0;
    if (!parser.is_done()) {
      parser.get().body().data = buf.data();
      parser.get().body().size = buf.size();
      const auto now = Clock::now();
      if (now >= limits.deadline) {
        result.abort = RelayAbort::kMaxDuration;
        co_return result;
      }
      // Time points, not durations: max() - now would overflow.
      upstream.expires_at(limits.deadline - now > limits.idle_timeout ? now + limits.idle_timeout
                                                                      : limits.deadline);
      auto [ec, n] = co_await http::async_read_some(upstream, upstream_buffer, parser, use_tuple);
      if (ec == http::error::need_buffer) ec = {};
      if (ec == beast::error::timeout && Clock::now() >= limits.deadline) {
        result.abort = RelayAbort::kMaxDuration;
        co_return result;
      }
      if (ec) {
        result.upstream_error = ec;
        co_return result;
      }
      got = buf.size() - parser.get().body().size;
      body_bytes += got;
      if (limits.max_body_bytes > 0 && body_bytes > limits.max_body_bytes) {
        result.abort = RelayAbort::kMaxBytes;
        co_return result;
      }
      if (usage_tail && got > 0) usage_tail->feed(buf.data(), got);
    }
    const bool last = parser.is_done();
    std::string_view data(buf.data(), got);
    if (usage_filter) data = usage_filter->filter(data, last);
    // Nothing to send yet (a chunk header, an empty read, a held event):
    // read on. The client head goes out together with the first body bytes.
    if (data.empty() && !last) continue;
    const size_t n = data.size();
    // Gather: [head] [chunk size] [data] [chunk end] [last chunk].
    head_buffer.resize(head_bytes);
    if (chunked && n > 0) append_chunk_header(head_buffer, n);
    std::array<net::const_buffer, 4> out;
    size_t parts = 0;
    out[parts++] = net::buffer(head_buffer);
    if (n > 0) out[parts++] = net::buffer(data.data(), n);
    if (chunked && n > 0) out[parts++] = net::buffer(kChunkEnd);
    if (chunked && last) out[parts++] = net::buffer(kLastChunk);

    if (!result.bytes_sent) result.first_byte_at = Clock::now();
    result.bytes_sent = true;
    const error_code wec = co_await write_with_progress(client, std::span(out.data(), parts),
                                                        limits.client_stall_timeout);
    if (wec) {
      result.client_error = wec;
      if (wec == beast::error::timeout) result.abort = RelayAbort::kClientStalled;
      co_return result;
    }
    head_bytes = 0;
    if (last) break;
  }
  result.complete = true;
  result.client_keep_alive = head.keep_alive;
  result.upstream_reusable = parser.is_done() && parser.keep_alive() && upstream_buffer.size() == 0;
  co_return result;
}

}  // namespace radixmesh::router
