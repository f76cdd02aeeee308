// wait_watching_peer: sleep on a timer while noticing that the client closed
// its connection, so a simulated prefill or decode step stops early when
// nobody is listening any more (the router's upstream cancellation).
//
// The watch waits for readability without consuming bytes: readable with no
// bytes available means EOF or reset (peer gone); readable with bytes means a
// pipelined next request, after which `watch` is switched off and only the
// timer is awaited.
//
// Thread safety: call from the coroutine that owns the socket and the timer
// (their common strand); the socket may have one write in flight elsewhere.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace radixmesh::tools::sim {

enum class WaitResult {
  kDone,        // the timer expired or was cancelled
  kPeerClosed,  // the client closed or reset the connection
};

boost::asio::awaitable<WaitResult> wait_watching_peer(boost::asio::steady_timer& timer,
                                                      boost::asio::ip::tcp::socket& socket,
                                                      bool& watch);

}  // namespace radixmesh::tools::sim
