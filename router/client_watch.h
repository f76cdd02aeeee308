// ClientWatch: notices a client that leaves while the router waits on a
// worker, and cancels the upstream exchange it names (router/proxy.h).
//
// Threads: used on the client connection's io thread only.
#pragma once

#include <array>
#include <memory>

#include "router/byte_stream.h"
#include "router/net.h"

namespace radixmesh::router {

// Watches the client socket while the worker computes. Readable means the
// client closed (EOF/reset: cancel the upstream exchange) or sent its next
// pipelined request (stop watching; it is read after this response).
struct ClientWatch {
  ByteStream* upstream = nullptr;  // cancelled when the client leaves
  bool active = true;
  bool client_gone = false;
  std::array<unsigned char, kPeekBytes> peeked{};  // MSG_PEEK target: stays in the socket
};

// A 1-byte MSG_PEEK receive rather than async_wait(wait_read): Asio starts a
// wait with an epoll_ctl per request, while a receive on a socket already
// registered for input only queues (or tries one recv first). Over TLS it
// peeks a record header: a close_notify counts as leaving (byte_stream.h).
inline void arm_watch(ByteStream& client, std::shared_ptr<ClientWatch> watch) {
  const bool tls = client.is_tls();
  unsigned char* target = watch->peeked.data();
  client.socket().async_receive(
      net::buffer(target, tls ? kPeekBytes : 1), tcp::socket::message_peek,
      [watch = std::move(watch), tls](error_code ec, size_t n) {
        if (!watch->active || ec == net::error::operation_aborted) return;
        // Pipelined data: not a disconnect.
        if (!ec && !peek_means_gone(tls, watch->peeked.data(), n)) return;
        watch->client_gone = true;  // EOF, reset, close_notify or another error
        if (watch->upstream) watch->upstream->cancel();
      });
}

// Ends the watch when the attempt ends, however it ends.
class WatchScope {
 public:
  WatchScope(ByteStream& client) : client_(client), watch_(std::make_shared<ClientWatch>()) {
    arm_watch(client_, watch_);
  }
  ~WatchScope() {
    watch_->active = false;
    watch_->upstream = nullptr;
    error_code ignored;
    client_.socket().cancel(ignored);  // only the watch is pending here
  }
  ClientWatch& operator*() { return *watch_; }
  ClientWatch* operator->() { return watch_.get(); }

 private:
  ByteStream& client_;
  std::shared_ptr<ClientWatch> watch_;
};

}  // namespace radixmesh::router
