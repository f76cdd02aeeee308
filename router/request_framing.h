// Request framing checks the router makes itself, after the header is read
// and before any body byte: what Beast's parser lets through but RFC 9112
// forbids or the router cannot honour.
//
// Transfer-Encoding (RFC 9112 §6.1, §6.3): the router accepts exactly
// `chunked` (case-insensitive, surrounding whitespace and empty list items
// ignored). Beast only looks at whether the last coding is `chunked` and
// otherwise treats the request as having no body, so `xchunked`, `identity`
// or `chunked, gzip` would make the body bytes the next request.
//   - chunked not the final coding, or given twice, or a Transfer-Encoding
//     in an HTTP/1.0 request: the length cannot be determined -> 400;
//   - another coding before a final chunked (`gzip, chunked`): a coding the
//     router does not implement -> 501 (RFC 9112 §6.1: "SHOULD respond with
//     501"), since it would forward compressed bytes as JSON.
// Both close the connection.
//
// Threads: a pure function.
#pragma once

#include <optional>
#include <string>

#include "router/errors.h"
#include "router/net.h"

namespace radixmesh::router {

struct FramingError {
  RouterErrc error;
  std::string message;
};

// nullopt when the request's framing is acceptable.
std::optional<FramingError> check_request_framing(const http::fields& fields, unsigned version);

}  // namespace radixmesh::router
