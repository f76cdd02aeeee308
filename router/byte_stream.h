// ByteStream: one connection's byte stream, plain TCP or TLS over TCP: the
// one seam between the data plane and TLS.
//
// The session, the proxy, the relay and the upstream pool read and write a
// ByteStream; whether the bytes are encrypted is decided once, when it is
// built. Everything TCP (deadlines, the socket for shutdown, peeks and
// options) goes to tcp_layer(), which is the same beast::tcp_stream either way (for
// TLS, the layer under the ssl stream), so deadlines, cancellation and
// SessionSet work unchanged. async_read_some / async_write_some make it an
// AsyncReadStream and AsyncWriteStream for Beast's HTTP algorithms; for a
// plain stream they forward to the tcp_stream (one predictable branch, no
// allocation).
//
// TLS uses beast::ssl_stream (an asio ssl::stream behind Beast's flat_stream,
// so a header and a body written together become one record, not one each).
// One read and one write may be pending at once, as on a plain stream.
//
// Threads: one connection's io thread, like the tcp_stream it wraps.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <optional>
#include <utility>

#include "router/net.h"

namespace radixmesh::router {

namespace ssl = boost::asio::ssl;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

class ByteStream {
 public:
  using executor_type = beast::tcp_stream::executor_type;

  // Plain: an unconnected stream on `ex`, or an accepted / connected socket.
  explicit ByteStream(const executor_type& ex) : plain_(std::in_place, ex), tcp_(&*plain_) {}
  explicit ByteStream(tcp::socket socket)
      : plain_(std::in_place, std::move(socket)), tcp_(&*plain_) {}
  explicit ByteStream(beast::tcp_stream&& stream)
      : plain_(std::in_place, std::move(stream)), tcp_(&*plain_) {}
  // TLS over a connected stream; the handshake is the caller's
  // (tls().async_handshake). The context must outlive the stream: `owner`
  // (the context's shared_ptr, when it may be swapped) is kept until then.
  ByteStream(beast::tcp_stream&& stream, ssl::context& context,
             std::shared_ptr<const void> owner = {})
      : owner_(std::move(owner)),
        tls_(std::make_unique<TlsStream>(std::move(stream), context)),
        tcp_(&tls_->next_layer()) {}
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  executor_type get_executor() noexcept { return tcp_->get_executor(); }

  // The TCP layer: deadlines (expires_after), socket(), close(), cancel().
  beast::tcp_stream& tcp_layer() { return *tcp_; }
  tcp::socket& socket() { return tcp_->socket(); }
  void expires_after(std::chrono::steady_clock::duration d) { tcp_->expires_after(d); }
  void expires_at(std::chrono::steady_clock::time_point t) { tcp_->expires_at(t); }
  void expires_never() { tcp_->expires_never(); }
  void cancel() { tcp_->cancel(); }
  void close() { tcp_->close(); }

  bool is_tls() const { return tls_ != nullptr; }
  // The ssl stream; only when is_tls().
  TlsStream& tls() { return *tls_; }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else {
            tcp_->async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else {
            tcp_->async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

 private:
  std::shared_ptr<const void> owner_;  // keeps a TLS stream's context alive
  std::optional<beast::tcp_stream> plain_;
  std::unique_ptr<TlsStream> tls_;
  beast::tcp_stream* tcp_;  // *plain_ or tls_->next_layer()
};

// An error of the TLS layer (OpenSSL's, or the ssl stream's own): for an
// upstream connect, the worker was reached but its handshake failed.
inline bool is_tls_error(const error_code& ec) {
  return ec.category() == net::error::get_ssl_category() ||
         ec.category() == net::ssl::error::get_stream_category();
}

// What a peek at the socket under a client connection says while the router
// is busy with its request (proxy.cc, admission_queue.cc): the socket is
// readable because the client left, or because it sent more. On a TLS
// connection "more" can be the client's close_notify alert, which is as good
// as leaving: a record of type alert (21, TLS 1.2), or an encrypted TLS 1.3
// record too short to hold an HTTP request (a 2-byte alert, its type byte
// and a 16-byte tag: 19 bytes). `n` bytes were peeked (at most kPeekBytes).
inline constexpr size_t kPeekBytes = 5;
inline bool peek_means_gone(bool tls, const unsigned char* bytes, size_t n) {
  if (n == 0) return true;
  if (!tls || n < 5) return false;
  const unsigned type = bytes[0];
  const unsigned length = (static_cast<unsigned>(bytes[3]) << 8) | bytes[4];
  return type == 21 || (type == 23 && length <= 24);
}

}  // namespace radixmesh::router
