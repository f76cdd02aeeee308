// Short names for the Asio/Beast types the data plane uses, and the one
// completion token it awaits with: errors come back as values
// (as_tuple(use_awaitable)), never as exceptions.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>

namespace radixmesh::router {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

template <typename T = void>
using awaitable = net::awaitable<T>;

inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

using Clock = std::chrono::steady_clock;

inline int64_t to_ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline int64_t now_ms() {
  return to_ms(Clock::now());
}

// Errors that end a connection normally: the peer closed, we cancelled or
// closed the socket (over TLS: also without close_notify). Not worth a log
// line.
inline bool is_expected_disconnect(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::operation_aborted || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::bad_descriptor ||
         ec == beast::error::timeout || ec == http::error::partial_message ||
         ec == net::ssl::error::stream_truncated;
}

}  // namespace radixmesh::router
