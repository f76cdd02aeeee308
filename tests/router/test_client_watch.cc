// Client watches (router/client_watch.h) over real loopback sockets: an
// exchange is watched only once it has waited kWatchDelay, then a client
// that leaves is noticed and its upstream cancelled; pipelined bytes are not
// a departure; a scope that ends first never arms.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <optional>

#include "router/client_watch.h"

using namespace radixmesh::router;
namespace asio = boost::asio;

namespace {

// A connected pair on loopback: `server` is the router's side of a client.
struct Pair {
  asio::io_context io;
  std::optional<ByteStream> server;
  tcp::socket client{io};
  Pair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client.connect(acceptor.local_endpoint());
    server.emplace(acceptor.accept());
  }
  void run_for(std::chrono::milliseconds d) {
    io.restart();
    io.run_for(d);
  }
};

}  // namespace

TEST_CASE("a client watch arms only after the delay, then notices the client leave") {
  Pair p;
  WatchArmer armer(p.io.get_executor(), std::chrono::milliseconds(100));
  ByteStream upstream(p.io.get_executor());
  WatchScope watch(*p.server, &armer);
  watch->upstream = &upstream;
  CHECK(armer.waiting() == 1);
  p.client.close();  // gone before the watch is armed: not seen yet
  p.io.poll();       // an armed watch would have its EOF by now
  CHECK_FALSE(watch->client_gone);
  CHECK(armer.waiting() == 1);
  for (int i = 0; i < 100 && !watch->client_gone; ++i) p.run_for(std::chrono::milliseconds(10));
  CHECK(watch->client_gone);
  CHECK(armer.waiting() == 0);
}

TEST_CASE("a watch that ends before its delay never arms; pipelined bytes are not leaving") {
  Pair p;
  WatchArmer armer(p.io.get_executor());
  {
    WatchScope quick(*p.server, &armer);
    CHECK(armer.waiting() == 1);
  }
  CHECK(armer.waiting() == 0);  // unlinked with the scope
  asio::write(p.client, asio::buffer("POST", 4));
  p.run_for(5 * kWatchDelay);  // the armer's tick finds nothing to arm
  {
    WatchScope waiting(*p.server, &armer);
    for (int i = 0; i < 50; ++i) p.run_for(std::chrono::milliseconds(1));
    CHECK(armer.waiting() == 0);        // armed by now
    CHECK_FALSE(waiting->client_gone);  // the bytes stay in the socket for the next request
  }
  char buf[4];
  CHECK(asio::read(p.server->socket(), asio::buffer(buf)) == 4);
  // Without an armer the watch starts at once.
  WatchScope now(*p.server, nullptr);
  p.client.close();
  for (int i = 0; i < 50 && !now->client_gone; ++i) p.run_for(std::chrono::milliseconds(1));
  CHECK(now->client_gone);
}
