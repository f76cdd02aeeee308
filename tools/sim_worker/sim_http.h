// Small HTTP helpers shared by the simulated worker's session and inference
// handlers: the stream and request types, and writing a whole response with
// the x-worker-id header.
//
// Thread safety: called from the coroutine owning the stream (its strand).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <string>
#include <string_view>

#include "tools/sim_worker/sim_state.h"

namespace radixmesh::tools::sim {

using Stream = boost::beast::tcp_stream;
using Request = boost::beast::http::request<boost::beast::http::string_body>;

// Bound on one write to a client: a reader that stops reading loses its
// connection after this long instead of holding a slot forever.
inline constexpr std::chrono::seconds kWriteTimeout{60};

// Writes one complete response. Returns true when the connection may serve
// another request (write ok and keep-alive).
boost::asio::awaitable<bool> send_response(Stream& stream, const Request& req,
                                           boost::beast::http::status status,
                                           std::string_view content_type, std::string body,
                                           SimState& state);

// An OpenAI error body with its status.
boost::asio::awaitable<bool> send_error(Stream& stream, const Request& req,
                                        boost::beast::http::status status, std::string_view message,
                                        std::string_view type, std::string_view code,
                                        SimState& state);

}  // namespace radixmesh::tools::sim
