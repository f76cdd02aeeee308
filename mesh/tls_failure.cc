#include "mesh/tls_failure.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

namespace radixmesh::mesh {

const char* to_string(TlsFailure f) {
  switch (f) {
    case TlsFailure::kNotTls:
      return "not_tls";
    case TlsFailure::kBadCertificate:
      return "bad_certificate";
    case TlsFailure::kNoCertificate:
      return "no_certificate";
    case TlsFailure::kPeerRefused:
      return "peer_refused";
    case TlsFailure::kTimeout:
      return "timeout";
    case TlsFailure::kClosed:
      return "closed";
    case TlsFailure::kOther:
      return "other";
  }
  return "other";
}

TlsFailure classify_tls_error(const boost::system::error_code& ec) {
  namespace asio = boost::asio;
  if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
    return TlsFailure::kClosed;
  if (ec.category() != asio::error::get_ssl_category()) return TlsFailure::kOther;
  const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  // Alerts received from the peer are reported as SSL_AD_REASON_OFFSET + alert.
  if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256)
    return TlsFailure::kPeerRefused;
  switch (reason) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return TlsFailure::kBadCertificate;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return TlsFailure::kNoCertificate;
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_WRONG_SSL_VERSION:
      return TlsFailure::kNotTls;
    default:
      return TlsFailure::kOther;
  }
}

}  // namespace radixmesh::mesh
