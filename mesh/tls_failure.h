// TlsFailure: why a mesh connection's TLS layer refused a peer, for the
// radixmesh_mesh_tls_handshake_failures_total{reason} counter and the
// rate-limited log line (docs/mesh-protocol.md §3, "TLS").
//
// Pure vocabulary plus one classifier from an Asio/OpenSSL error code; no
// sockets. Thread safety: stateless.
#pragma once

#include <boost/system/error_code.hpp>
#include <cstdint>

namespace radixmesh::mesh {

enum class TlsFailure : uint8_t {
  kNotTls,          // the peer's bytes are not TLS (a plain mesh node, garbage)
  kBadCertificate,  // its certificate failed our verification (another CA, expired)
  kNoCertificate,   // it presented none (acceptor side: client certs are required)
  kPeerRefused,     // it sent an alert: it refused our certificate or parameters
  kTimeout,         // the handshake deadline passed first
  kClosed,          // it closed or reset the connection during the handshake
  kOther,           // anything else (protocol version, cipher mismatch, ...)
};
inline constexpr int kTlsFailureCount = 7;

const char* to_string(TlsFailure f);

// The failure an error of a TLS handshake (or of the first read after it:
// with TLS 1.3 the dialer learns that its certificate was refused only
// then) stands for.
TlsFailure classify_tls_error(const boost::system::error_code& ec);

}  // namespace radixmesh::mesh
