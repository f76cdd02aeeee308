// Responses the router answers itself (errors, /health, /readiness,
// /v1/models): build a complete string_body response and write it.
//
// Threads: each call runs on the connection's io thread.
#pragma once

#include <string>
#include <string_view>

#include "router/byte_stream.h"
#include "router/errors.h"
#include "router/net.h"

namespace radixmesh::router {

// Writes a JSON response. Returns the write error (expected disconnects
// included: the caller closes the connection on any error). head_only: the
// answer to a HEAD request, the header (with the body's Content-Length) and
// no body (RFC 9110 §9.3.2). retry_after_s > 0: a Retry-After header.
awaitable<error_code> write_json(ByteStream& stream, unsigned status, std::string body,
                                 bool keep_alive, unsigned version = 11,
                                 std::string_view allow = {}, bool head_only = false,
                                 unsigned retry_after_s = 0);

// Writes the OpenAI-style error body for e with its HTTP status.
awaitable<error_code> write_error(ByteStream& stream, RouterErrc e, std::string_view message,
                                  bool keep_alive, unsigned version = 11,
                                  std::string_view allow = {}, bool head_only = false,
                                  unsigned retry_after_s = 0);

// A whole response built before the connection was served (prebuilt_error),
// for connections the router refuses before any request: written within a
// second, then half-closed; what the client sent is discarded for at most a
// second and 64 KB (so the close does not reset the connection before the
// answer is read); then closed.
std::string prebuilt_error(RouterErrc e, std::string_view message, unsigned retry_after_s = 0);
awaitable<void> answer_and_close(beast::tcp_stream& stream, std::string_view response);

}  // namespace radixmesh::router
