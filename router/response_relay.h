// Response relay: stream one upstream response to the client as it arrives.
//
// The upstream header has been read into `parser` (a buffer_body parser);
// relay_response() writes the client response header (end-to-end headers of
// the worker's response, plus x-radixmesh-worker) and then, in a loop, reads
// whatever body bytes the worker sent (async_read_some: one socket read) into
// a fixed buffer and writes them to the client before reading more. So:
//   - each SSE event reaches the client when the worker sent it;
//   - a slow client back-pressures the upstream read: per exchange memory is
//     one fixed buffer plus Beast's bounded parse buffer, never the stream;
//   - a worker's Content-Length is kept; otherwise (chunked, close-delimited)
//     the client gets chunked encoding.
// The client head is written by hand (router/wire_format.h) into
// `head_buffer`, a per-connection string reused between responses, and goes
// out in one gather write with the first body bytes.
// Timeouts: idle_timeout bounds each upstream read and each client write.
// `usage_tail`, when given, sees every body piece as it passes (it keeps a
// bounded tail for the worker's usage report, router/usage_tail.h).
//
// Threads: runs on the connection's io thread; both streams belong to it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <span>

#include "router/net.h"
#include "router/usage_tail.h"

namespace radixmesh::router {

struct RelayResult {
  error_code upstream_error;       // reading the worker failed mid-body
  error_code client_error;         // writing to the client failed (client gone)
  bool bytes_sent = false;         // some byte reached the client
  bool complete = false;           // the whole response was relayed
  bool upstream_reusable = false;  // the worker connection may be pooled
  bool client_keep_alive = false;  // the client connection may serve another request
  Clock::time_point first_byte_at{};
};

inline constexpr size_t kRelayBufferBytes = 16 * 1024;

// `body_buffer` (kRelayBufferBytes, the caller's, reused per connection)
// carries the body pieces; keeping it off the coroutine frame keeps the
// frame small enough for Asio's per-thread frame recycling.
awaitable<RelayResult> relay_response(beast::tcp_stream& client, beast::tcp_stream& upstream,
                                      beast::flat_buffer& upstream_buffer,
                                      http::response_parser<http::buffer_body>& parser,
                                      std::string& head_buffer, std::span<char> body_buffer,
                                      std::string_view worker_url, bool client_keep_alive,
                                      unsigned client_version,
                                      std::chrono::milliseconds idle_timeout,
                                      UsageTail* usage_tail = nullptr);

}  // namespace radixmesh::router
