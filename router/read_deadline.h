// ReadDeadline: a deadline on a connection's reads that leaves the socket
// open, so the session can still answer 408 when it passes.
//
// beast::tcp_stream's own timeout closes the socket when it fires; that is
// right for an idle keep-alive connection (closed silently) but not for a
// request whose header or body is late, which gets "408 Request Timeout"
// before the close. arm() starts a timer; when it fires it marks the
// deadline expired and cancels the socket's pending operations, so the
// read in progress ends with operation_aborted and the session checks
// expired(). disarm() (or arming again) stops it; a firing that was already
// queued when the deadline was disarmed or re-armed does nothing.
//
// Threads: one connection's io thread (the timer and the socket share its
// executor). The timer's handler keeps its own reference to the state, so it
// may run after the ReadDeadline is gone.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "router/net.h"

namespace radixmesh::router {

class ReadDeadline {
 public:
  explicit ReadDeadline(tcp::socket& socket)
      : timer_(socket.get_executor()), state_(std::make_shared<State>(&socket)) {}
  ~ReadDeadline() {
    state_->socket = nullptr;
    disarm();
  }
  ReadDeadline(const ReadDeadline&) = delete;
  ReadDeadline& operator=(const ReadDeadline&) = delete;

  void arm(std::chrono::milliseconds after) {
    disarm();
    state_->expired = false;
    timer_.expires_after(after);
    timer_.async_wait([s = state_, generation = state_->generation](error_code ec) {
      if (ec || s->generation != generation || s->socket == nullptr) return;
      s->expired = true;
      error_code ignored;
      s->socket->cancel(ignored);
    });
  }
  void disarm() {
    ++state_->generation;
    timer_.cancel();
  }
  // The last armed deadline passed (and cancelled the reads in progress).
  bool expired() const { return state_->expired; }

 private:
  struct State {
    explicit State(tcp::socket* s) : socket(s) {}
    tcp::socket* socket;
    uint64_t generation = 0;
    bool expired = false;
  };
  net::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace radixmesh::router
