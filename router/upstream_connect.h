// connect_worker: one new connection to a worker, plain or TLS by its URL.
//
// Opens the socket first (so EMFILE comes back as itself, see fd_budget.h),
// connects to the first reachable endpoint and, for an https:// worker, runs
// the TLS client handshake: SNI set to the host name (not for an IP
// address), the certificate verified against the client context (the
// --upstream-ca-file bundle or the system store) and matched against the
// host (name or IP). Connect and handshake share one deadline (`timeout`);
// when it passes the error is beast::error::timeout. The pool, the health
// checker and the /metrics poller all connect through here, so each speaks
// the worker's scheme.
//
// Threads: the executor's thread.
#pragma once

#include <chrono>
#include <memory>

#include "router/byte_stream.h"
#include "router/net.h"
#include "router/worker.h"

namespace radixmesh::router {

struct ConnectResult {
  error_code ec;
  std::unique_ptr<ByteStream> stream;  // set when !ec; its deadline is cleared
  bool tls_failed = false;             // the TCP connect worked, the handshake did not
};

// `tls` may be null when no worker uses https (an https worker then fails
// with RouterErrc::kUpstreamFailure).
awaitable<ConnectResult> connect_worker(net::any_io_executor ex,
                                        const tcp::resolver::results_type& endpoints,
                                        const WorkerAddress& address, ssl::context* tls,
                                        std::chrono::milliseconds timeout);

}  // namespace radixmesh::router
