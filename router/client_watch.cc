#include "router/client_watch.h"

namespace radixmesh::router {

WatchScope::WatchScope(ByteStream& client, WatchArmer* armer) : client_(client) {
  if (armer)
    armer->enlist(*this);
  else
    arm();
}

WatchScope::~WatchScope() {
  if (!armed_) return;  // still waiting: the hook unlinks itself
  armed_->scope = nullptr;
  error_code ignored;
  client_.socket().cancel(ignored);  // only the watch is pending here
}

// A 1-byte MSG_PEEK receive rather than async_wait(wait_read): Asio starts a
// wait with an epoll_ctl, while a receive on a socket already registered for
// input only queues (after one recv tried at once). Over TLS it peeks a
// record header: a close_notify counts as leaving (byte_stream.h).
void WatchScope::arm() {
  if (armed_) return;
  armed_ = std::make_shared<Armed>(Armed{this});
  const bool tls = client_.is_tls();
  client_.socket().async_receive(
      net::buffer(armed_->peeked.data(), tls ? kPeekBytes : 1), tcp::socket::message_peek,
      [armed = armed_, tls](error_code ec, size_t n) {
        WatchScope* scope = armed->scope;
        if (!scope || ec == net::error::operation_aborted) return;
        // Pipelined data: not a disconnect.
        if (!ec && !peek_means_gone(tls, armed->peeked.data(), n)) return;
        scope->watch_.client_gone = true;  // EOF, reset, close_notify or another error
        if (scope->watch_.upstream) scope->watch_.upstream->cancel();
      });
}

void WatchArmer::enlist(WatchScope& scope) {
  young_.push_back(scope);
  schedule();
}

void WatchArmer::schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  timer_.expires_after(delay_);
  timer_.async_wait([this](error_code ec) {
    if (ec == net::error::operation_aborted) return;  // the armer is gone
    scheduled_ = false;
    tick();
  });
}

void WatchArmer::tick() {
  // Arming runs no handler inline (Asio posts completions), so nothing
  // unlinks from the list while it is walked but the walk itself.
  while (!old_.empty()) {
    WatchScope& s = old_.front();
    old_.pop_front();
    s.arm();
  }
  old_.splice(old_.end(), young_);
  if (!old_.empty()) schedule();
}

}  // namespace radixmesh::router
