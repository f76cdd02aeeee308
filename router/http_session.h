// HTTP session: one client connection, read request -> handle -> repeat.
//
// Requests on a connection are served one at a time in order (HTTP/1.1
// pipelining works: later requests wait in the bounded read buffer and the
// kernel's socket buffer, which back-pressures the client). Bounds: request
// header (max_header_bytes -> 431), body (max_body_bytes -> 413, checked
// against Content-Length before the body is read; its storage grows with
// the bytes received, each growth reserved in the process-wide body budget
// -> 503 when spent, see router/body_reader.h), read buffer, and three
// deadlines: a silent connection is closed silently (keep-alive idle timeout
// between requests, the header deadline before the first); a request whose
// header or body is late gets 408 and the connection closes (header deadline
// from its first byte, body deadline from the end of its header). "Expect: 100-continue" is
// answered before the body is read. A malformed request gets 400 and the connection closes; every
// other error closes it silently (expected disconnects) or with one log line (unexpected ones,
// logged where the session is spawned).
//
// Threads: the session coroutine runs on one io thread, with that thread's
// IoThreadState.
#pragma once

#include <chrono>
#include <cstddef>

#include "radix/canonical_prompt.h"
#include "router/body_budget.h"
#include "router/byte_stream.h"
#include "router/net.h"
#include "router/request_handler.h"

namespace radixmesh::router {

// A Content-Length body is read into a string with at least this much spare
// capacity after it, so the JSON parser (simdjson) can parse it in place.
inline constexpr size_t kBodyPadding = radix::RequestParser::kPadding;

struct SessionOptions {
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 8 << 20;
  // Idle between requests: closed silently.
  std::chrono::milliseconds keepalive_timeout{60000};
  // From a request's first byte to the end of its header (408 when late);
  // also how long a new connection may stay silent (closed silently).
  std::chrono::milliseconds header_timeout{10000};
  // From the end of the header to the end of the body (408 when late).
  std::chrono::milliseconds body_timeout{60000};
  // Process-wide cap on body storage (router/body_budget.h); null: none.
  BodyBudget* body_budget = nullptr;
  bool operator==(const SessionOptions&) const = default;
};

// Serves one connection (plain, or TLS after its handshake: the listener
// decides) until it closes. Returns the first unexpected error (for the
// spawner to log), or a default error_code.
awaitable<error_code> run_session(ByteStream& stream, const RequestHandler& handler,
                                  IoThreadState& thread, SessionOptions options);

}  // namespace radixmesh::router
