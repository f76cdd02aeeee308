// PeerConnection: one authenticated TCP connection to one peer — a read loop
// and a write loop (C++20 coroutines on the connection's executor), the
// handshake (mesh/auth.h), and a send queue bounded in bytes.
//
// Lifecycle: created by Transport with a connected socket, start()ed, then
//   handshake (frames other than the handshake are refused as
//   unauthenticated, payloads are capped at kMaxHandshakePayload, and the
//   whole handshake must finish within handshake_timeout; an accepted
//   connection must deliver its first frame within first_frame_timeout) ->
//   Owner::on_first_frame when the first complete frame arrives -> authenticated:
//   Owner::on_authenticated; every known frame -> Owner::on_frame; unknown
//   types are skipped -> any error, garbage or close() -> Owner::on_closed
//   exactly once.
// TLS (a context given, docs/mesh-protocol.md §3 "TLS"): the TLS handshake
//   (mutual, verified against the context's CA) runs first, inside the same
//   handshake_timeout, and no mesh frame is read or written before it
//   succeeds; a failure is counted (MeshStats::tls_failures), reported by
//   Owner::on_tls_failure and closes the connection. A finished TLS
//   handshake counts as the first frame (the peer holds a certificate of
//   our CA). Without a context the connection is plain TCP, as before: the
//   only cost is one pointer test per read and per write. A rejected frame bumps
//   MeshStats::rejected[reason] and closes the connection; nothing from it reaches the owner.
// Ownership: the coroutines hold a shared_ptr to the connection, so it lives
//   until both loops have ended. detach() severs the back pointer to the owner
//   (Transport::stop) so no callback reaches a destroyed owner.
// Threads: every method must be called on the connection's executor (the
//   mesh strand); callbacks run there too.
// Bounds: queued bytes <= max_queue_bytes (send() returns false beyond it);
//   one frame's payload <= kMaxFramePayload; reads allocate only after the
//   header's length has been checked.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "mesh/auth.h"
#include "mesh/frame.h"
#include "mesh/mesh_stats.h"
#include "mesh/tls_failure.h"
#include "mesh/tls_fwd.h"

namespace radixmesh::mesh {

inline constexpr uint32_t kMaxHandshakePayload = 4096;

class PeerConnection : public std::enable_shared_from_this<PeerConnection> {
 public:
  class Owner {
   public:
    virtual ~Owner() = default;
    // The first complete frame arrived (before it is handled).
    virtual void on_first_frame(const std::shared_ptr<PeerConnection>& /*c*/) {}
    virtual void on_authenticated(const std::shared_ptr<PeerConnection>& c) = 0;
    virtual void on_frame(const std::shared_ptr<PeerConnection>& c, FrameType type,
                          std::string_view payload) = 0;
    virtual void on_closed(const std::shared_ptr<PeerConnection>& c) = 0;
    // The TLS layer refused the peer (called before on_closed); `detail` is
    // OpenSSL's reason, for the log.
    virtual void on_tls_failure(const std::shared_ptr<PeerConnection>& /*c*/, TlsFailure /*f*/,
                                const std::string& /*detail*/) {}
  };
  struct Options {
    NodeIdentity self;
    std::string secret;
    size_t max_queue_bytes = 16u << 20;
    std::chrono::milliseconds handshake_timeout{5000};
    // Acceptor only: a silent connection is closed after this (0: off); a
    // real dialer sends its hello at once.
    std::chrono::milliseconds first_frame_timeout{1000};
  };

  // `tls`: the context of a mesh TLS connection; nullptr: plain TCP.
  PeerConnection(boost::asio::ip::tcp::socket socket, Handshake::Role role, const Options& opts,
                 Owner* owner, std::shared_ptr<MeshStats> stats,
                 std::shared_ptr<TlsContext> tls = nullptr);
  ~PeerConnection();

  void start();
  // Queues one frame; false if not authenticated, closed, or the queue is full.
  bool send(FrameType type, std::string_view payload);
  void close();
  void detach() { owner_ = nullptr; }

  bool authenticated() const { return authenticated_; }
  bool closed() const { return closed_; }
  bool heard_from() const { return heard_from_; }
  bool tls() const { return tls_ != nullptr; }
  // Bytes received by the kernel and not read yet (FIONREAD).
  bool bytes_waiting() const;
  Handshake::Role role() const { return role_; }
  const NodeIdentity& peer() const { return handshake_.peer(); }
  size_t queued_bytes() const { return queued_bytes_; }
  const std::string& remote() const { return remote_; }

 private:
  static boost::asio::awaitable<void> read_loop(std::shared_ptr<PeerConnection> self);
  static boost::asio::awaitable<void> write_loop(std::shared_ptr<PeerConnection> self);
  static boost::asio::awaitable<void> handshake_watchdog(std::shared_ptr<PeerConnection> self);
  // TLS only: the TLS handshake, then the read and write loops.
  static boost::asio::awaitable<void> tls_handshake(std::shared_ptr<PeerConnection> self);
  void start_loops();
  // Counts a TLS failure and tells the owner (the caller closes).
  void note_tls_failure(TlsFailure f, const std::string& detail);
  // Validates and dispatches one whole received frame (header already
  // parsed); false when the connection must close.
  bool on_wire_frame(const uint8_t* header16, const FrameHeader& h, std::string_view payload);
  // Handles one received known frame; false when the connection must close.
  bool handle(FrameType type, std::string_view payload);
  void enqueue(uint8_t type, std::string bytes);
  void reject(RejectReason r);

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer wake_;  // write loop sleeps on it; cancel() wakes it
  boost::asio::steady_timer hs_timer_;
  Handshake::Role role_;
  Handshake handshake_;
  size_t max_queue_bytes_;
  std::chrono::milliseconds handshake_timeout_;
  std::chrono::milliseconds first_frame_timeout_;
  Owner* owner_;
  std::shared_ptr<MeshStats> stats_;
  std::deque<std::string> queue_;                   // encoded frames
  static constexpr size_t kMaxFramesPerWrite = 32;  // gathered into one write
  static constexpr size_t kMaxBytesPerWrite = size_t{256} << 10;
  // The read loop reads whatever the socket has into one flat buffer of this
  // size and dispatches every whole frame in it (one system call for a
  // window's batch + load delta + ack instead of two per frame). A frame
  // larger than the buffer (snapshot chunks) grows it to that frame's
  // validated length, at most kFrameHeaderSize + kMaxFramePayload; it shrinks
  // back once emptied.
  static constexpr size_t kReadBufferBytes = size_t{64} << 10;
  size_t queued_bytes_ = 0;
  bool authenticated_ = false;
  bool heard_from_ = false;  // a complete frame has arrived
  bool closed_ = false;
  std::string remote_;
  // TLS (both null for plain TCP). The stream refers to socket_ and is
  // declared after it, so it goes first. The connection keeps the context it
  // started with (a rotation swaps the transport's, not this one).
  std::shared_ptr<TlsContext> tls_ctx_;
  std::unique_ptr<TlsStream> tls_;
  bool tls_ready_ = false;  // the TLS handshake succeeded
  // The frames of one write, gathered (at most kMaxBytesPerWrite; a single
  // frame is written from the queue): a TLS stream writes one buffer per
  // record, so separate buffers would cost one record and one system call each.
  std::string tls_out_;
};

}  // namespace radixmesh::mesh
