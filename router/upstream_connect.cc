#include "router/upstream_connect.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/connect.hpp>

#include "router/errors.h"
#include "router/fd_budget.h"

namespace radixmesh::router {
namespace {

// SNI and the name the certificate must match. An IP literal is matched
// against the certificate's IP SANs and sent without SNI (RFC 6066).
bool set_peer_name(TlsStream& s, const std::string& host) {
  SSL* ssl = s.native_handle();
  error_code ec;
  net::ip::make_address(host, ec);
  if (!ec) {
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  }
  return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 && SSL_set1_host(ssl, host.c_str()) == 1;
}

}  // namespace

awaitable<ConnectResult> connect_worker(net::any_io_executor ex,
                                        const tcp::resolver::results_type& endpoints,
                                        const WorkerAddress& address, ssl::context* tls,
                                        std::chrono::milliseconds timeout) {
  ConnectResult r;
  beast::tcp_stream raw(ex);
  if (const error_code oec = open_for_connect(raw.socket(), endpoints); oec) {
    r.ec = oec;
    co_return r;
  }
  raw.expires_after(timeout);
  auto [cec, ep] = co_await raw.async_connect(endpoints, use_tuple);
  if (cec) {
    r.ec = cec;
    co_return r;
  }
  error_code ignored;
  raw.socket().set_option(tcp::no_delay(true), ignored);
  if (!address.tls) {
    raw.expires_never();
    r.stream = std::make_unique<ByteStream>(std::move(raw));
    co_return r;
  }
  if (tls == nullptr) {
    r.ec = make_error_code(RouterErrc::kUpstreamFailure);
    r.tls_failed = true;
    co_return r;
  }
  auto stream = std::make_unique<ByteStream>(std::move(raw), *tls);
  if (!set_peer_name(stream->tls(), address.host)) {
    r.ec = make_error_code(RouterErrc::kUpstreamFailure);
    r.tls_failed = true;
    co_return r;
  }
  // The deadline set before the connect still runs on the same tcp_stream.
  auto [hec] = co_await stream->tls().async_handshake(ssl::stream_base::client, use_tuple);
  if (hec) {
    r.ec = hec;
    r.tls_failed = true;
    co_return r;
  }
  stream->expires_never();
  r.stream = std::move(stream);
  co_return r;
}

}  // namespace radixmesh::router
