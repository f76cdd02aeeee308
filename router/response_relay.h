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
// Timeouts (RelayLimits): idle_timeout bounds each upstream read;
// client_stall_timeout bounds the time a client may accept no byte at all
// (each partial write restarts it: a slow reader is fine, one that stopped
// reading is cut off and its upstream connection freed).
// `usage_tail`, when given, sees every body piece as it passes (it keeps a
// bounded tail for the worker's usage report, router/usage_tail.h);
// `usage_filter`, when given and enabled, then removes the usage chunk the
// router asked for from what the client gets (router/stream_usage.h; off for
// a body framed by Content-Length, whose length the filter would change).
//
// Threads: runs on the connection's io thread; both streams belong to it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <span>

#include "router/byte_stream.h"
#include "router/net.h"
#include "router/stream_usage.h"
#include "router/usage_tail.h"

namespace radixmesh::router {

struct RelayLimits {
  std::chrono::milliseconds idle_timeout{60000};          // upstream: between reads
  std::chrono::milliseconds client_stall_timeout{15000};  // client: no byte accepted
  // The whole response ends by then (--max-stream-duration-ms from the
  // request's arrival): a worker dripping a byte now and then cannot hold
  // its connection forever. max(): none.
  Clock::time_point deadline = Clock::time_point::max();
  uint64_t max_body_bytes = 0;  // body bytes relayed at most (--max-response-bytes); 0: none
};

// Why a relay stopped before the end (RelayResult::abort).
enum class RelayAbort { kNone, kClientStalled, kMaxDuration, kMaxBytes };
// The reason label of radixmesh_stream_aborts_total: "client_stall",
// "max_duration", "max_response_bytes".
std::string_view to_string(RelayAbort abort);

struct RelayResult {
  RelayAbort abort = RelayAbort::kNone;
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
awaitable<RelayResult> relay_response(ByteStream& client, ByteStream& upstream,
                                      beast::flat_buffer& upstream_buffer,
                                      http::response_parser<http::buffer_body>& parser,
                                      std::string& head_buffer, std::span<char> body_buffer,
                                      std::string_view worker_url, bool client_keep_alive,
                                      unsigned client_version, const RelayLimits& limits,
                                      UsageTail* usage_tail = nullptr,
                                      UsageChunkFilter* usage_filter = nullptr);

}  // namespace radixmesh::router
