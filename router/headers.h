// Header rewriting between client and worker (RFC 9110 §7.6.1).
//
// A proxy forwards end-to-end headers unchanged and drops hop-by-hop ones:
// Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding,
// Upgrade, Proxy-Authenticate, Proxy-Authorization, and every header the
// Connection header names. Host and Content-Length are set by the proxy
// (the body is forwarded byte for byte, so its length is unchanged).
//
// Threads: pure functions.
#pragma once

#include <string_view>

#include "router/net.h"

namespace radixmesh::router {

// The header naming the worker that served a response.
inline constexpr std::string_view kWorkerHeader = "x-radixmesh-worker";

bool is_hop_by_hop(std::string_view name);

// Is this header forwarded? Not for hop-by-hop ones, the ones listed in the
// message's Connection header (`connection`), Host and Content-Length.
bool forwardable(http::field field, std::string_view name, std::string_view connection);

// Copies every end-to-end header of `from` into `to` (appending), skipping
// hop-by-hop headers, the ones `from`'s Connection header lists, Host and
// Content-Length.
void copy_end_to_end(const http::fields& from, http::fields& to);

}  // namespace radixmesh::router
