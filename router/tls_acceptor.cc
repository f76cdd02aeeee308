#include "router/tls_acceptor.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>

#include "router/local_response.h"
#include "router/read_deadline.h"
#include "router/session_set.h"

namespace radixmesh::router {
namespace {

constexpr unsigned char kHandshakeRecord = 0x16;

const std::string& tls_required_response() {
  static const std::string response = prebuilt_error(
      RouterErrc::kTlsRequired, "this port speaks TLS (https://); plain HTTP is not served here");
  return response;
}

}  // namespace

const char* label(HandshakeFailure f) {
  switch (f) {
    case HandshakeFailure::kPlainHttp:
      return "plain_http";
    case HandshakeFailure::kTimeout:
      return "timeout";
    case HandshakeFailure::kClosed:
      return "closed";
    case HandshakeFailure::kCertificateRejected:
      return "certificate_rejected";
    case HandshakeFailure::kProtocolVersion:
      return "protocol_version";
    case HandshakeFailure::kProtocol:
      return "protocol";
  }
  return "protocol";
}

HandshakeFailure classify_handshake_error(const error_code& ec) {
  if (ec == beast::error::timeout) return HandshakeFailure::kTimeout;
  if (ec == net::error::eof || ec == net::ssl::error::stream_truncated ||
      ec == net::error::connection_reset || ec == net::error::broken_pipe) {
    return HandshakeFailure::kClosed;
  }
  if (ec.category() == net::error::get_ssl_category()) {
    switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
        return HandshakeFailure::kCertificateRejected;
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_WRONG_VERSION_NUMBER:
      case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      case SSL_R_VERSION_TOO_LOW:
        return HandshakeFailure::kProtocolVersion;
      default:
        break;
    }
  }
  return HandshakeFailure::kProtocol;
}

TlsAcceptor::TlsAcceptor(const tls::ReloadingContext& contexts, std::chrono::milliseconds deadline,
                         RouterMetrics* metrics)
    : contexts_(contexts), deadline_(deadline) {
  if (!metrics) return;
  ok_ = metrics->tls_handshakes.with({});
  for (int i = 0; i < 6; ++i) {
    failures_[i] = metrics->tls_handshake_failures.with({label(static_cast<HandshakeFailure>(i))});
  }
}

void TlsAcceptor::count(HandshakeFailure f) const {
  if (auto& c = failures_[static_cast<int>(f)]) c->inc();
}

awaitable<std::unique_ptr<ByteStream>> TlsAcceptor::accept(tcp::socket socket,
                                                           SessionSet& sessions) const {
  const auto deadline = Clock::now() + deadline_;
  std::shared_ptr<ssl::context> context = contexts_.current();
  auto stream =
      std::make_unique<ByteStream>(beast::tcp_stream(std::move(socket)), *context, context);
  // Registered (idle) from the start: shutdown closes a connection that is
  // still in its handshake like an idle keep-alive one.
  SessionRegistration registration(sessions, *stream);
  std::array<unsigned char, 1> first{};
  {
    // A peek is a socket operation: tcp_stream's timeout does not cover it.
    ReadDeadline peek_deadline(stream->socket());
    peek_deadline.arm(deadline_);
    auto [pec, pn] = co_await stream->socket().async_receive(net::buffer(first),
                                                             tcp::socket::message_peek, use_tuple);
    peek_deadline.disarm();
    if (pec || pn == 0) {
      count(peek_deadline.expired() ? HandshakeFailure::kTimeout : HandshakeFailure::kClosed);
      stream->close();
      co_return nullptr;
    }
  }
  if (first[0] != kHandshakeRecord) {
    // Nothing went through the TLS layer yet: answer in plain text below it.
    count(HandshakeFailure::kPlainHttp);
    co_await answer_and_close(stream->tcp_layer(), tls_required_response());
    co_return nullptr;
  }
  stream->expires_after(std::max(deadline - Clock::now(), Clock::duration(1)));
  auto [hec] = co_await stream->tls().async_handshake(ssl::stream_base::server, use_tuple);
  if (hec) {
    count(classify_handshake_error(hec));
    stream->close();
    co_return nullptr;
  }
  stream->expires_never();
  if (ok_) ok_->inc();
  co_return stream;
}

}  // namespace radixmesh::router
