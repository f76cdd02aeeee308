// HTTP/1.1 message heads written by hand for the proxy's hot path.
//
// Beast's serializer walks a message's fields through several layers of
// buffer views and needs a fields container built per message (one
// allocation per header). The proxy only ever forwards: it copies the
// end-to-end headers it received (headers.h rules) and adds a few of its
// own, so it writes the head straight into one reusable string and sends
// head and body with a single gather write.
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "router/net.h"

namespace radixmesh::router {

// "POST /v1/chat/completions HTTP/1.1", the client's end-to-end headers,
// Host, Content-Length; keep-alive (HTTP/1.1 default). Appends to `out`.
// forwarded_for (the client's address; empty: leave the headers alone):
// X-Forwarded-For becomes the client's list (all its X-Forwarded-For lines,
// joined) with this address appended, and X-Forwarded-Proto: http (https
// when the client reached the router over TLS, client_tls) is added unless
// the client sent one (a TLS-terminating balancer in front sets it).
void append_request_head(std::string& out, http::verb method, std::string_view target,
                         const http::fields& client_headers, std::string_view host,
                         uint64_t content_length, std::string_view forwarded_for = {},
                         bool client_tls = false);

// How the client response body is delimited.
enum class BodyFraming {
  kContentLength,  // the worker's Content-Length, unchanged
  kChunked,        // re-chunked (worker sent chunked or close-delimited)
  kClose,          // HTTP/1.0 client: the body ends when the connection closes
  kNone,           // 1xx/204/304: no body and no length header
};

struct ResponseHead {
  unsigned version = 11;  // the client's HTTP version (10 or 11)
  unsigned status = 200;
  std::string_view reason;  // empty: the standard phrase for status
  BodyFraming framing = BodyFraming::kContentLength;
  uint64_t content_length = 0;  // with kContentLength
  bool keep_alive = true;
  std::string_view worker_url;  // sent as x-radixmesh-worker; empty: no such header
};

// Status line, the worker's end-to-end headers, x-radixmesh-worker, the
// framing header and Connection when the version's default differs from
// keep_alive. Appends to `out`.
void append_response_head(std::string& out, const ResponseHead& head,
                          const http::fields& worker_headers);

// "<hex size>\r\n" for one chunk of `size` bytes (size > 0). Appends.
void append_chunk_header(std::string& out, size_t size);

inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace radixmesh::router
