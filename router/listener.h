// Listener: accepts client connections and spreads them over the io threads.
//
// One acceptor (on the first io thread) accepts each connection directly
// onto the next io thread's io_context, round robin, and spawns its session
// coroutine there; from then on the connection, its upstream exchanges and
// its pooled connections stay on that thread. stop() closes the acceptor
// (shutdown step 1); sessions already open are not touched.
//
// Connection cap (router/connection_gate.h): each session holds a ticket;
// with max_connections open, a new connection gets a short 503
// (too_many_connections) and is closed (on a TLS port: closed at once, a
// plain-text answer would only fail the client's handshake). Accept errors (EMFILE when the
// process is out of descriptors anyway) pause the loop for 50 ms and are
// logged once per burst with a count (router/error_burst.h), as are
// refusals.
//
// Threads: construct and start() at start-up; stop() from any thread (it is
// posted to the acceptor's executor).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "router/connection_gate.h"
#include "router/error_burst.h"
#include "router/http_session.h"
#include "router/metrics_catalog.h"
#include "router/net.h"
#include "router/request_handler.h"
#include "router/tls_acceptor.h"

namespace radixmesh::router {

class Listener {
 public:
  struct Thread {
    net::io_context* ioc;
    IoThreadState* state;
  };
  using LogFn = std::function<void(const std::string&)>;

  // Binds and listens now (throws on failure: start-up error). metrics may be
  // null (tests). tls: the port speaks TLS (router/tls_acceptor.h); null:
  // plain HTTP. It must outlive the listener's sessions.
  Listener(net::io_context& accept_ioc, const tcp::endpoint& endpoint, std::vector<Thread> threads,
           const RequestHandler& handler, SessionOptions options, uint64_t max_connections,
           RouterMetrics* metrics, LogFn log_error, const TlsAcceptor* tls = nullptr);

  void start();
  void stop();
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  const ConnectionGate& gate() const { return *gate_; }

 private:
  awaitable<void> accept_loop();
  void refuse(tcp::socket socket, net::io_context& ioc);

  tcp::acceptor acceptor_;
  std::vector<Thread> threads_;
  const RequestHandler& handler_;
  const SessionOptions options_;
  std::shared_ptr<ConnectionGate> gate_;
  std::shared_ptr<Counter> refused_cap_;     // null without metrics
  std::shared_ptr<Counter> refused_accept_;  // null without metrics
  LogFn log_error_;
  ErrorBurst accept_errors_{"accept"};                           // acceptor thread only
  ErrorBurst refusals_{"connection refused (max-connections)"};  // acceptor thread only
  size_t next_ = 0;
  const TlsAcceptor* tls_;  // null: plain HTTP
};

}  // namespace radixmesh::router
