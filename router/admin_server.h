// AdminServer: the admin API's own HTTP listener (default 127.0.0.1:9000).
//
// The admin server has a thread of its own ("rm-admin": one io_context, one
// thread, started by start() and joined by the destructor): the acceptor,
// every admin connection and every handler run there, never on a data-plane
// io thread. A tree dump or snapshot of a large tree costs tens of
// milliseconds of CPU; on a data-plane thread it delayed every request of
// that thread by as much (issue 17, item 13). Handlers still take tree shard
// locks one at a time and briefly (router/admin_trees.h), so the data plane
// only ever waits for one short shard walk. Each connection reads one request
// at a time (header <= 16 KiB, body <= max_body_bytes -> 413), hands it to
// AdminApi::handle (synchronous, no I/O) and writes the answer; keep-alive
// up to max_requests_per_connection (the last response says Connection:
// close).
//
// Connection slots (docs/admin-api.md, "Limits"): idle or slow connections
// must not lock a scrape out. A request's header must arrive within
// header_timeout of the server starting to wait for it (keep-alive idle
// included), its body within body_timeout. At most max_connections_per_source
// connections per source address and max_connections in all; a newcomer over
// either cap closes the oldest connection (of its source, resp. of all) that
// is waiting for a request, and is refused only when every one is busy in a
// request. Accept errors (EMFILE) are logged once per burst, with a count.
//
// Lifetime: start() binds and listens (throws std::runtime_error on failure:
// a start-up error), then starts the thread. stop() closes the acceptor and
// every open admin connection (posted to the admin thread); the coroutines
// then end by themselves and the thread runs out of work. The destructor
// stops and joins it, so the AdminApi (and what it reads) must outlive the
// AdminServer.
//
// Threads: construct, start() and destroy on one thread; stop() from any
// thread. AdminApi::handle runs on the admin thread, concurrently with the
// data plane (it is thread-safe, see admin_api.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <string>
#include <thread>

#include <boost/asio/strand.hpp>
#include "router/admin_api.h"

#include "router/net.h"

namespace radixmesh::router {

class AdminServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 9000;  // 0: any free port (tests)
    size_t max_body_bytes = 8 << 20;
    size_t max_header_bytes = 16 * 1024;
    std::chrono::milliseconds header_timeout{5000};  // waiting for and reading a header
    std::chrono::milliseconds body_timeout{30000};
    std::chrono::milliseconds write_timeout{30000};
    size_t max_requests_per_connection = 1000;
    size_t max_connections = 64;                  // beyond: the oldest waiting one is closed
    size_t max_connections_per_source = 16;       // ... of the same source address
    std::string session_header = "X-Session-Id";  // passed to explain
    bool operator==(const Options&) const = default;
  };
  using LogFn = std::function<void(const std::string&)>;

  AdminServer(const AdminApi& api, Options options, LogFn log_error);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  void start();
  void stop();
  tcp::endpoint local_endpoint() const { return endpoint_; }

 private:
  struct Conn {
    explicit Conn(tcp::socket s, std::string from)
        : stream(std::move(s)), source(std::move(from)) {}
    beast::tcp_stream stream;
    std::string source;    // remote address, no port
    bool waiting = true;   // waiting for (or reading) a request header
    bool evicted = false;  // closed to make room; no longer counted
  };
  using Conns = std::list<Conn>;

  awaitable<void> accept_loop();
  awaitable<void> session(Conns::iterator conn);
  // Makes room for a connection from `source`: false when it must be refused.
  bool make_room(const std::string& source);
  static void close_stream(beast::tcp_stream& s);

  net::io_context ioc_{1};  // the admin thread's; first member, so destroyed last
  net::strand<net::io_context::executor_type> strand_;
  const AdminApi& api_;
  const Options options_;
  LogFn log_error_;
  tcp::acceptor acceptor_;
  tcp::endpoint endpoint_;
  Conns open_;            // guarded by the strand
  bool stopped_ = false;  // guarded by the strand
  std::thread thread_;    // runs ioc_; "rm-admin"
};

}  // namespace radixmesh::router
