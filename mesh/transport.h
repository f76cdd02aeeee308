// Transport: the mesh's TCP layer — accepts and dials connections, keeps at
// most one authenticated connection per peer, routes frames by node id, and
// redials with exponential backoff.
//
// One connection per peer pair: when two authenticated connections to the
// same node exist (both ends dialed at once), both ends keep the same one:
// the one from the higher incarnation, else the one dialed by the smaller
// node id; the other is closed. A connection to ourselves (a seed list that
// includes our own address) is closed and that address is never dialed again.
//
// Inbound admission (mesh/handshake_admission.h): pending handshakes are
// capped per source address and in total; a new connection evicts the
// oldest silent pending one instead of being refused, and an accepted
// connection that sends no frame within conn.first_frame_timeout (1 s) is
// closed. So a flood of silent connections, even one that reconnects at
// once, cannot keep a real peer out for longer than its own handshake.
// Every outcome is counted in MeshStats.
//
// Dial backoff: per address, 250 ms doubling to 10 s after each failure,
// reset when a connection from it authenticates; dial() calls inside the
// backoff window or while a dial is in flight are ignored.
//
// TLS (set_tls): every connection made or accepted after the call runs the
// mutual TLS handshake first (mesh/peer_connection.h); connections already
// open keep theirs. A peer refused by TLS is logged through Options::log at
// most once a minute per peer address (mesh/log_limiter.h) and counted.
//
// Threads: construct, call and destroy on the mesh strand only (the executor
// passed in); Handler callbacks run there. stop() detaches every connection
// so no callback reaches the handler afterwards; the object may then be
// destroyed while the connections' coroutines wind down on their own.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "mesh/handshake_admission.h"
#include "mesh/log_limiter.h"
#include "mesh/mesh_stats.h"
#include "mesh/peer_connection.h"

namespace radixmesh::mesh {

class Transport : public PeerConnection::Owner {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // A peer authenticated (also when it replaces an older connection).
    virtual void on_peer_connected(const NodeIdentity& peer) = 0;
    virtual void on_peer_frame(const NodeId& from, FrameType type, std::string_view payload) = 0;
    // The last connection to this peer closed.
    virtual void on_peer_disconnected(const NodeId& peer) = 0;
  };
  struct Options {
    PeerConnection::Options conn;
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds dial_backoff_min{250};
    std::chrono::milliseconds dial_backoff_max{10000};
    HandshakeAdmission::Options admission;  // inbound connections in their handshake
    // Log lines (TLS refusals are warnings); empty: not logged. Called on
    // the mesh strand.
    std::function<void(bool warning, const std::string& line)> log;
  };

  Transport(boost::asio::any_io_executor exec, Options opts, Handler& handler,
            std::shared_ptr<MeshStats> stats);
  ~Transport() override;

  // Binds and listens; returns the bound port (port 0: any free one). Throws
  // boost::system::system_error when the address cannot be bound. May be
  // called from any thread before start_accepting().
  uint16_t listen(const std::string& host, uint16_t port);
  void start_accepting();
  // The address our handshakes advertise (known only after listen() with port 0).
  void set_advertise(const std::string& address) { opts_.conn.self.address = address; }
  // The TLS context for new connections (nullptr: plain TCP, the default).
  void set_tls(std::shared_ptr<TlsContext> tls) { tls_ = std::move(tls); }
  // Connects to "host:port" unless already connected to it, dialing it, or
  // inside its backoff window.
  void dial(const std::string& address);
  // Queues a frame for an authenticated peer; false if none or queue full.
  bool send(const NodeId& to, FrameType type, std::string_view payload);
  bool connected(const NodeId& peer) const;
  void disconnect(const NodeId& peer);
  void stop();
  size_t peer_count() const { return peers_.size(); }

  // PeerConnection::Owner
  void on_first_frame(const std::shared_ptr<PeerConnection>& c) override;
  void on_authenticated(const std::shared_ptr<PeerConnection>& c) override;
  void on_frame(const std::shared_ptr<PeerConnection>& c, FrameType type,
                std::string_view payload) override;
  void on_closed(const std::shared_ptr<PeerConnection>& c) override;
  void on_tls_failure(const std::shared_ptr<PeerConnection>& c, TlsFailure f,
                      const std::string& detail) override;

 private:
  struct DialState {
    bool in_flight = false;
    std::chrono::steady_clock::time_point not_before{};
    std::chrono::milliseconds backoff{0};
  };
  static boost::asio::awaitable<void> accept_loop(Transport* self, std::shared_ptr<bool> alive);
  static boost::asio::awaitable<void> dial_one(Transport* self, std::shared_ptr<bool> alive,
                                               std::string address);
  void adopt(boost::asio::ip::tcp::socket s, Handshake::Role role, const std::string& dialed);
  // An accepted socket: admitted (maybe evicting a pending one), then started.
  void admit(boost::asio::ip::tcp::socket s);
  // Stops tracking an inbound connection's handshake (authenticated or closed).
  void forget_inbound(const std::shared_ptr<PeerConnection>& c);
  void dial_failed(const std::string& address);
  bool keep_new(const PeerConnection& existing, const PeerConnection& fresh) const;

  boost::asio::any_io_executor exec_;
  Options opts_;
  Handler& handler_;
  std::shared_ptr<MeshStats> stats_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false after stop()
  std::map<NodeId, std::shared_ptr<PeerConnection>> peers_;     // authenticated
  std::set<std::shared_ptr<PeerConnection>> pending_;           // in handshake
  HandshakeAdmission admission_;                                // inbound ones among them
  // Inbound pending connections by admission id (the connection's address
  // while it is tracked).
  std::map<uint64_t, std::shared_ptr<PeerConnection>> inbound_;
  std::map<std::shared_ptr<PeerConnection>, std::string> dialed_address_;
  std::map<std::string, DialState> dials_;
  std::set<std::string> self_addresses_;  // addresses that turned out to be us
  std::shared_ptr<TlsContext> tls_;       // for new connections; null: plain
  LogLimiter tls_log_;                    // TLS refusals, by peer address
};

}  // namespace radixmesh::mesh
