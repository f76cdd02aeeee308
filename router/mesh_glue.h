// MeshGlue: how the daemon joins the mesh when --mesh-port is set. It owns
// the mesh side of the process — DeltaJournal (the trees' observer), LoadBoard
// (other routers' in-flight per worker), the SyncEngine and the MeshNode —
// and runs them on one dedicated thread with its own io_context, so gossip
// never competes with the data plane's io threads and the App's shutdown
// order stays simple.
//
// Wiring (router/app.cc), in this order:
//   1. glue = MeshGlue::create(config, directory, clock, log)   (nullptr: no mesh)
//   2. TreeCatalog(..., glue ? glue->observer() : nullptr)
//   3. RoutingEngine(..., glue ? glue->load_fn() : MeshLoadFn{},
//                    glue ? glue->load_signal() : nullptr)
//   4. glue->start(trees, registry, metrics)   binds the mesh port (throws)
//   5. admin: context.peers = [glue] { return glue->peers_json(); }
//   6. registry add/remove hooks: glue->worker_added/removed(id)
//   7. shutdown: glue->stop()   graceful leave, then the thread ends
//
// Push (--mesh-push-window-ms): the journal's first change of a window calls
// MeshNode::request_flush (which arms the window's timer from the calling
// thread; nothing on the request path waits), and the node runs the
// engine's flush one window later on the mesh thread.
//
// Local load: before every gossip round and every push flush the mesh
// thread copies each worker's in-flight count from the registry into the
// LoadBoard. With push on, every in-flight change notifies load_signal()
// (one atomic exchange; the first change since the last sample also asks
// for a flush), so a request ending reaches peers as fast as one starting
// and the mesh thread sleeps while counts stand still (it used to sample
// every window while anything was in flight: ~500 wake-ups/s per router).
// Mesh load: the mesh thread copies the LoadBoard's per-worker mesh counts
// into a MeshLoadTable after every round (all workers) and when peers' load
// reports or deltas arrive (the workers they named); load_fn() reads that
// table, one relaxed atomic per worker, with no lock (router/mesh_load_table.h).
//
// Threads: create/start/stop on the main thread; observer() is called by
// router threads (thread-safe DeltaJournal); load_fn() and peers_json() from
// any thread; worker_added/removed from any thread.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "mesh/delta_journal.h"
#include "mesh/load_board.h"
#include "mesh/mesh_node.h"
#include "mesh/sync_engine.h"
#include "radix/hlc.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"
#include "router/config.h"
#include "router/load_change_signal.h"
#include "router/log.h"
#include "router/mesh_load_table.h"
#include "router/metrics.h"
#include "router/routing_engine.h"
#include "router/worker_registry.h"

namespace radixmesh::router {

// What MeshGlue turns into the mesh node's configuration
// (router/component_options.h fills it from the flags).
struct MeshSettings {
  bool enabled = false;  // --mesh-port > 0
  std::string node_id;
  std::string bind_host;
  uint16_t port = 0;
  std::string advertise;
  std::vector<std::string> peers;
  std::string peers_dns;
  uint64_t dns_interval_ms = 30000;
  std::string secret_file;
  uint64_t gossip_interval_ms = 1000;
  uint64_t push_window_ms = 2;
  mesh::TlsFiles tls;  // --mesh-tls-*: mutual TLS when set
  bool operator==(const MeshSettings&) const = default;
};

class MeshGlue {
 public:
  // nullptr when the mesh is disabled (--mesh-port 0). Throws on a bad
  // secret file (a start-up error).
  static std::unique_ptr<MeshGlue> create(const MeshSettings& settings,
                                          radix::WorkerDirectory& directory,
                                          radix::HybridClock& clock, const Logger& log);
  ~MeshGlue();
  MeshGlue(const MeshGlue&) = delete;
  MeshGlue& operator=(const MeshGlue&) = delete;

  radix::TreeObserver* observer() { return &journal_; }
  MeshLoadFn load_fn();
  // Notified by the routing engine's in-flight guards (push on; see above).
  std::shared_ptr<LoadChangeSignal> load_signal() { return load_signal_; }
  // Builds the sync engine and the node, binds the mesh port (throws
  // std::runtime_error when it cannot), registers the metrics collector and
  // starts the mesh thread.
  void start(radix::TreeCatalog& trees, WorkerRegistry& registry, MetricsRegistry& metrics);
  void stop();

  nlohmann::json peers_json() const;
  // Members alive or suspect, this node included (>= 1): the N that rate
  // limits divide by (router/rate_limiter.h). Any thread; copies the peer
  // list, so callers cache it.
  size_t live_members() const;
  void worker_added(radix::WorkerId id);
  void worker_removed(radix::WorkerId id);
  uint16_t port() const { return node_ ? node_->port() : 0; }
  // SIGHUP: re-read the mesh TLS files for new connections (any thread;
  // no-op without mesh TLS).
  void reload_tls() {
    if (node_) node_->reload_tls();
  }

 private:
  MeshGlue(const MeshSettings& settings, radix::WorkerDirectory& directory,
           radix::HybridClock& clock, const Logger& log, std::string secret);
  void sample_local_load();
  // Mesh thread: copy the board into load_table_ (force: every worker, else
  // the workers whose count changed since the last copy).
  void refresh_mesh_load(bool force);

  const MeshSettings settings_;
  radix::WorkerDirectory& directory_;
  radix::HybridClock& clock_;
  const Logger& log_;
  std::string secret_;
  mesh::DeltaJournal journal_;
  mesh::LoadBoard load_;
  std::shared_ptr<LoadChangeSignal> load_signal_ = std::make_shared<LoadChangeSignal>();
  MeshLoadTable load_table_;
  WorkerRegistry* registry_ = nullptr;
  // The io_context is declared before the node so the node (its sockets and
  // timers) is destroyed first, while the io_context still exists.
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  mesh::SyncEngine* engine_ = nullptr;  // owned by node_
  std::unique_ptr<mesh::MeshNode> node_;
  std::thread thread_;
};

// The /metrics families of the mesh (wire counters, peers by state, sync).
Collector mesh_metrics_collector(const mesh::MeshNode& node, const mesh::SyncEngine* engine);
// The mesh TLS families (handshakes, refusals by reason, reloads); only
// registered when mesh TLS is on, so /metrics is unchanged without it.
Collector mesh_tls_metrics_collector(const mesh::MeshNode& node);

}  // namespace radixmesh::router
