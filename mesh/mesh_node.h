// MeshNode: the object the router creates to join the mesh. It owns the
// transport (TCP + handshake), the SWIM membership and the sync engine, and
// runs them on one strand of the io_context it is started on.
//
//   router ──creates──> MeshNode ──owns──> Transport ──> PeerConnection*
//                                  ├─owns──> Membership (pure SWIM)
//                                  └─owns──> SyncHandler (sync engine, from a factory)
//
// Peers: seeds from --peer (every one dialed at start, and again whenever no
// known member has that address) and from --peers-dns NAME:PORT (resolved at
// start and every dns_interval). One seed is enough: member lists are
// exchanged on every new connection, and every member learned alive is
// dialed at once (and again with the seed check while unconnected), since
// sync pushes go only over connections. A peer is "up" for the sync engine while
// it has an authenticated connection and membership says alive or suspect.
//
// Incarnation: wall-clock milliseconds at start unless configured. Nothing is
// persisted, yet a restarted node (same --node-id) always comes back with a
// higher incarnation than its previous life, so its old "dead"/"left" record
// is overridden everywhere — as long as the wall clock does not step back by
// more than the restart took.
//
// TLS (MeshNodeConfig::tls set): every connection is mutual TLS with the
// credentials of mesh/tls_credentials.h, re-read when the files change
// (polled every tls_reload_interval_ms) or on reload_tls() (SIGHUP), for new
// connections; the HMAC handshake runs on top as before.
//
// Threads: the constructor, start(), stop() and peers()/stats() may be called
// from any thread (stop() waits at most `stop_timeout` for the strand to do
// the leave). Everything else — PeerSender::send, the sync engine, the
// transport, membership — runs on the mesh strand only. The io_context may be
// run by several threads; the strand serialises the mesh.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mesh/membership.h"
#include "mesh/mesh_stats.h"
#include "mesh/peer_sender.h"
#include "mesh/tls_credentials.h"
#include "mesh/transport.h"

namespace radixmesh::mesh {

struct MeshNodeConfig {
  NodeId node_id;
  std::string bind_host = "0.0.0.0";
  uint16_t port = 0;               // --mesh-port (0: any free port, tests)
  std::string advertise;           // --mesh-advertise; empty: derived, never 0.0.0.0
  std::vector<std::string> seeds;  // --peer HOST:PORT
  std::string seeds_dns;           // --peers-dns NAME:PORT
  std::string secret;              // contents of --mesh-secret-file; empty: no auth (dev)
  uint64_t gossip_interval_ms = 1000;
  // --mesh-push-window-ms: changes are pushed to peers this long after the
  // first change of a window (coalesced), between gossip rounds. 0: no push,
  // changes wait for the next round.
  uint64_t push_window_ms = 2;
  uint64_t dns_interval_ms = 30000;
  uint64_t incarnation = 0;            // 0: wall clock ms at start
  size_t max_queue_bytes = 16u << 20;  // per peer
  std::chrono::milliseconds stop_timeout{2000};
  MembershipConfig membership;  // probe_interval_ms is set from gossip_interval_ms
  TlsFiles tls;                 // --mesh-tls-*-file; none set: plain TCP
  uint64_t tls_reload_interval_ms = 5000;
  // Log lines of the mesh (TLS refusals and reloads); empty: not logged.
  // Called on the mesh thread.
  std::function<void(bool warning, const std::string& line)> log;
};

struct PeerView {
  NodeId id;
  std::string address;
  MemberState state = MemberState::kAlive;
  uint64_t incarnation = 0;
  uint64_t last_seen_ms_ago = 0;  // since the last direct evidence of life
  bool connected = false;
};

class MeshNode : public PeerSender, private Transport::Handler {
 public:
  // Builds the sync engine once the node exists (it needs our PeerSender).
  using SyncFactory = std::function<std::unique_ptr<SyncHandler>(PeerSender&)>;

  explicit MeshNode(MeshNodeConfig cfg, SyncFactory sync = {});
  ~MeshNode() override;
  MeshNode(const MeshNode&) = delete;
  MeshNode& operator=(const MeshNode&) = delete;

  // Binds the mesh port, starts the timers and dials the seeds. Throws when
  // the port cannot be bound or the TLS files do not load (start-up errors).
  void start(boost::asio::io_context& io);
  // Graceful leave (kLeave to every member), then closes every connection.
  void stop();

  std::vector<PeerView> peers() const;  // sorted by id; any thread
  const MeshStats& stats() const { return *stats_; }
  uint16_t port() const { return port_; }
  const std::string& advertise() const { return advertise_; }
  uint64_t incarnation() const { return incarnation_; }
  const NodeId& node_id() const { return cfg_.node_id; }
  SyncHandler* sync() { return sync_.get(); }
  // Authenticated connections (mesh strand only; tests).
  size_t connection_count() const { return transport_ ? transport_->peer_count() : 0; }

  // Any thread, never blocks: the sync engine's flush() runs on the mesh
  // strand push_window_ms from now (one timer per window however many calls
  // arrive meanwhile, armed by the calling thread so the mesh thread wakes
  // only when the window ends). No-op when push is disabled or the node is
  // stopped.
  void request_flush();
  // Mesh strand only (from the sync handler's flush): flush again
  // kFollowUpWindows push windows (at most one gossip round) after the
  // latest call, unless a flush runs sooner anyway; each call restarts the
  // wait. For changes that do not ask for a window of their own (requests
  // ending, router/load_change_signal.h).
  static constexpr uint64_t kFollowUpWindows = 10;
  void arm_follow_up_flush();
  // Any thread, never blocks: re-reads the TLS files on the mesh strand now
  // (SIGHUP). No-op without TLS.
  void reload_tls();

  // PeerSender (mesh strand only): queues a frame for a connected peer; when
  // there is no connection yet, dials the member's address and returns false.
  bool send(const NodeId& to, FrameType type, std::string payload) override;

 private:
  void on_peer_connected(const NodeIdentity& peer) override;
  void on_peer_frame(const NodeId& from, FrameType type, std::string_view payload) override;
  void on_peer_disconnected(const NodeId& peer) override;

  using Alive = std::atomic<bool>;
  static boost::asio::awaitable<void> timer_loop(MeshNode* self, std::shared_ptr<Alive> alive);
  static boost::asio::awaitable<void> resolve_dns(MeshNode* self, std::shared_ptr<Alive> alive);
  void on_member_change(const MemberInfo& m, std::optional<MemberState> old);
  void update_up(const NodeId& id);
  void dial_seeds();  // and alive members without a connection
  void dial_member(const MemberInfo& m);
  void refresh_view();
  void do_stop();
  uint64_t now_ms() const;
  void arm_flush();                 // mesh strand
  void run_flush();                 // mesh strand: sync_->flush, and the next window if asked
  void reload_tls_now(bool force);  // mesh strand

  MeshNodeConfig cfg_;
  SyncFactory sync_factory_;
  std::shared_ptr<MeshStats> stats_ = std::make_shared<MeshStats>();
  std::optional<boost::asio::strand<boost::asio::io_context::executor_type>> strand_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<SyncHandler> sync_;
  std::unique_ptr<TlsCredentials> tls_;  // null without TLS
  // False once stopped; handlers that outlive stop() check it (any thread).
  std::shared_ptr<Alive> alive_ = std::make_shared<Alive>(true);
  std::set<NodeId> up_;  // peers the sync engine was told are up
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  uint16_t port_ = 0;
  std::string advertise_;
  uint64_t incarnation_ = 0;
  bool started_ = false;
  std::atomic<bool> stopped_{false};  // written on the strand; read by request_flush too
  // Whoever sets it first runs the stop: the strand's leave coroutine, or
  // stop() itself when the strand did not take it within stop_timeout.
  std::atomic<bool> stop_claimed_{false};
  std::atomic<bool> flush_requested_{false};  // a window's timer is armed (request_flush)
  std::mutex window_mu_;                      // guards window_timer_ (any thread)
  std::optional<boost::asio::steady_timer> window_timer_;     // reset at stop
  std::optional<boost::asio::steady_timer> flush_timer_;      // mesh strand
  bool flush_armed_ = false;                                  // mesh strand
  std::optional<boost::asio::steady_timer> follow_up_timer_;  // mesh strand
  uint64_t follow_up_generation_ = 0;  // mesh strand: the latest follow-up wait

  mutable std::mutex view_mu_;
  std::vector<PeerView> view_;  // guarded by view_mu_: copy for peers()
};

}  // namespace radixmesh::mesh
