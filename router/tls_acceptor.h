// TlsAcceptor: the first steps of a connection on a TLS data-plane port
// (--tls-cert-file / --tls-key-file), before the HTTP session starts.
//
//   1. peek the first byte: a TLS connection starts with a handshake record
//      (0x16); anything else is plain HTTP sent to the TLS port, answered
//      "400 tls_required" in plain text and closed (rather than a handshake
//      failure the client cannot read);
//   2. the server handshake with the context current now (a reload swaps
//      it for later connections only; this one keeps its own);
//   3. hand the stream to the session.
// The peek and the handshake share one deadline (the header deadline,
// --client-header-timeout-ms, which is what a silent plain connection gets):
// a client that never finishes is closed and counted. Every failure is
// counted by reason (radixmesh_tls_handshake_failures_total{reason}).
//
// Threads: accept() runs on the connection's io thread; the acceptor itself
// is shared by all of them (read-only, counters are atomic).
#pragma once

#include <chrono>
#include <memory>

#include "router/byte_stream.h"
#include "router/metrics_catalog.h"
#include "router/net.h"
#include "router/session_set.h"
#include "router/tls_reloading_context.h"

namespace radixmesh::router {

// The failure reasons, for the counter and the unit tests.
enum class HandshakeFailure {
  kPlainHttp,
  kTimeout,
  kClosed,
  kCertificateRejected,
  kProtocolVersion,
  kProtocol
};
const char* label(HandshakeFailure f);
HandshakeFailure classify_handshake_error(const error_code& ec);

class TlsAcceptor {
 public:
  // metrics may be null (tests).
  TlsAcceptor(const tls::ReloadingContext& contexts, std::chrono::milliseconds deadline,
              RouterMetrics* metrics);

  // The stream ready for the session, or null when the connection was
  // answered or dropped here (it is closed then). While it runs the
  // connection is in `sessions` as idle (shutdown closes it).
  awaitable<std::unique_ptr<ByteStream>> accept(tcp::socket socket, SessionSet& sessions) const;

 private:
  void count(HandshakeFailure f) const;

  const tls::ReloadingContext& contexts_;
  const std::chrono::milliseconds deadline_;
  std::shared_ptr<Counter> ok_;
  std::shared_ptr<Counter> failures_[6];  // by HandshakeFailure; null without metrics
};

}  // namespace radixmesh::router
