// Responses the router answers itself (errors, /health, /readiness,
// /v1/models): build a complete string_body response and write it.
//
// Threads: each call runs on the connection's io thread.
#pragma once

#include <string>
#include <string_view>

#include "router/errors.h"
#include "router/net.h"

namespace radixmesh::router {

// Writes a JSON response. Returns the write error (expected disconnects
// included: the caller closes the connection on any error). head_only: the
// answer to a HEAD request, the header (with the body's Content-Length) and
// no body (RFC 9110 §9.3.2). retry_after_s > 0: a Retry-After header.
awaitable<error_code> write_json(beast::tcp_stream& stream, unsigned status, std::string body,
                                 bool keep_alive, unsigned version = 11,
                                 std::string_view allow = {}, bool head_only = false,
                                 unsigned retry_after_s = 0);

// Writes the OpenAI-style error body for e with its HTTP status.
awaitable<error_code> write_error(beast::tcp_stream& stream, RouterErrc e, std::string_view message,
                                  bool keep_alive, unsigned version = 11,
                                  std::string_view allow = {}, bool head_only = false,
                                  unsigned retry_after_s = 0);

}  // namespace radixmesh::router
