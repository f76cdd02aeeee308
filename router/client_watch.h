// ClientWatch: notices a client that leaves while the router waits on a
// worker, and cancels the upstream exchange it names (router/proxy.h).
//
// A watch is a 1-byte MSG_PEEK receive on the client socket. Most exchanges
// end within a millisecond, and Asio tries every receive at once (a
// recvfrom that answers EAGAIN: one system call per request for nothing),
// so a WatchArmer, one per io thread, arms a request's watch only once the
// request has waited on its worker for kWatchDelay to 2 x kWatchDelay. A
// client that leaves is then noticed within that much more time, which is
// nothing against the generation it saves. Without an armer the watch is
// armed at once.
//
// Threads: used on the client connection's io thread only.
#pragma once

#include <array>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <chrono>
#include <memory>

#include "router/byte_stream.h"
#include "router/net.h"

namespace radixmesh::router {

// How long an exchange waits on its worker before its client is watched.
inline constexpr std::chrono::milliseconds kWatchDelay{2};

// What the watch found. Readable means the client closed (EOF/reset: cancel
// the upstream exchange) or sent its next pipelined request (stop watching;
// it is read after this response).
struct ClientWatch {
  ByteStream* upstream = nullptr;  // cancelled when the client leaves
  bool client_gone = false;
};

class WatchArmer;

using WatchHook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

// Ends the watch when the attempt ends, however it ends.
class WatchScope : public WatchHook {
 public:
  // `armer` null: armed at once.
  WatchScope(ByteStream& client, WatchArmer* armer);
  ~WatchScope();
  WatchScope(const WatchScope&) = delete;
  WatchScope& operator=(const WatchScope&) = delete;

  ClientWatch& operator*() { return watch_; }
  ClientWatch* operator->() { return &watch_; }

  // Starts the peek (WatchArmer, or the constructor). Once.
  void arm();

 private:
  // What the receive's handler may touch after the scope is gone: `scope`
  // is cleared by the destructor. Allocated only for a watch that is armed.
  struct Armed {
    WatchScope* scope;
    std::array<unsigned char, kPeekBytes> peeked{};  // MSG_PEEK target: stays in the socket
  };
  ByteStream& client_;
  ClientWatch watch_;
  std::shared_ptr<Armed> armed_;
};

// Per io thread: scopes waiting to be armed, in two generations; a timer
// every kWatchDelay while any waits arms the older one.
class WatchArmer {
 public:
  explicit WatchArmer(net::any_io_executor ex, std::chrono::milliseconds delay = kWatchDelay)
      : timer_(std::move(ex)), delay_(delay) {}
  WatchArmer(const WatchArmer&) = delete;
  WatchArmer& operator=(const WatchArmer&) = delete;

  void enlist(WatchScope& scope);
  size_t waiting() const { return young_.size() + old_.size(); }

 private:
  using List = boost::intrusive::list<WatchScope, boost::intrusive::constant_time_size<false>>;
  void schedule();
  void tick();

  net::steady_timer timer_;
  std::chrono::milliseconds delay_;
  bool scheduled_ = false;
  List young_;  // enlisted since the last tick
  List old_;    // armed at the next tick
};

}  // namespace radixmesh::router
