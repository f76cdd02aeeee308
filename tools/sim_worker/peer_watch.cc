#include "tools/sim_worker/peer_watch.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace radixmesh::tools::sim {

namespace asio = boost::asio;

asio::awaitable<WaitResult> wait_watching_peer(asio::steady_timer& timer,
                                               asio::ip::tcp::socket& socket, bool& watch) {
  if (watch) {
    auto [order, ec_timer, ec_sock] =
        co_await asio::experimental::make_parallel_group(
            timer.async_wait(asio::deferred),
            socket.async_wait(asio::ip::tcp::socket::wait_read, asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    if (order[0] == 0) co_return WaitResult::kDone;
    boost::system::error_code ec;
    if (ec_sock || socket.available(ec) == 0 || ec) co_return WaitResult::kPeerClosed;
    watch = false;  // a pipelined request is waiting: stop watching
  }
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
  co_return WaitResult::kDone;
}

}  // namespace radixmesh::tools::sim
