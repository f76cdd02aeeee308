// Listener: accepts client connections and spreads them over the io threads.
//
// One acceptor (on the first io thread) accepts each connection directly
// onto the next io thread's io_context, round robin, and spawns its session
// coroutine there; from then on the connection, its upstream exchanges and
// its pooled connections stay on that thread. stop() closes the acceptor
// (shutdown step 1); sessions already open are not touched.
//
// Threads: construct and start() at start-up; stop() from any thread (it is
// posted to the acceptor's executor).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "router/http_session.h"
#include "router/net.h"
#include "router/request_handler.h"

namespace radixmesh::router {

class Listener {
 public:
  struct Thread {
    net::io_context* ioc;
    IoThreadState* state;
  };
  using LogFn = std::function<void(const std::string&)>;

  // Binds and listens now (throws on failure: start-up error).
  Listener(net::io_context& accept_ioc, const tcp::endpoint& endpoint, std::vector<Thread> threads,
           const RequestHandler& handler, SessionOptions options, LogFn log_error);

  void start();
  void stop();
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  awaitable<void> accept_loop();

  tcp::acceptor acceptor_;
  std::vector<Thread> threads_;
  const RequestHandler& handler_;
  const SessionOptions options_;
  LogFn log_error_;
  size_t next_ = 0;
};

}  // namespace radixmesh::router
