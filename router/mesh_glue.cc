#include "router/mesh_glue.h"

#include <pthread.h>

#include <boost/asio/post.hpp>

namespace radixmesh::router {
namespace {

uint64_t wall_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Wraps the engine so the glue can sample local load just before each round
// and copy the mesh's load where routing reads it after rounds and reports.
class TickHook : public mesh::SyncHandler {
 public:
  // signal: null when push is off; else local load changes wake the flush
  // themselves and the flush does not repeat while load stands still.
  TickHook(std::unique_ptr<mesh::SyncEngine> engine, std::function<void()> before_tick,
           std::function<void(bool force)> load_changed, LoadChangeSignal* signal)
      : engine_(std::move(engine)),
        before_tick_(std::move(before_tick)),
        load_changed_(std::move(load_changed)),
        signal_(signal) {}
  void on_peer_up(const mesh::NodeId& p) override { engine_->on_peer_up(p); }
  void on_peer_down(const mesh::NodeId& p) override {
    engine_->on_peer_down(p);
    load_changed_(true);
  }
  void on_frame(const mesh::NodeId& from, mesh::FrameType t, std::string_view payload) override {
    engine_->on_frame(from, t, payload);
    if (t == mesh::FrameType::kLoadReport || t == mesh::FrameType::kLoadDelta) load_changed_(false);
  }
  void tick(uint64_t now_ms) override {
    before_tick_();
    engine_->tick(now_ms);
    load_changed_(true);
  }
  bool flush(uint64_t now_ms) override {
    if (signal_) signal_->rearm();  // before the sample: a later change wakes again
    before_tick_();
    const bool load_moving = engine_->flush(now_ms);
    if (!signal_) return load_moving;
    // Requests in flight here will end, and an end does not ask for a window
    // of its own (router/load_change_signal.h): a follow-up flush sends it if
    // no request starting sooner has.
    if (load_moving && follow_up_) follow_up_();
    return false;
  }
  void set_follow_up(std::function<void()> f) { follow_up_ = std::move(f); }
  mesh::SyncEngine* engine() { return engine_.get(); }

 private:
  std::unique_ptr<mesh::SyncEngine> engine_;
  std::function<void()> before_tick_;
  std::function<void(bool)> load_changed_;
  LoadChangeSignal* signal_;
  std::function<void()> follow_up_;  // mesh strand: MeshNode::arm_follow_up_flush
};

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::unique_ptr<MeshGlue> MeshGlue::create(const MeshSettings& config,
                                           radix::WorkerDirectory& directory,
                                           radix::HybridClock& clock, const Logger& log) {
  if (!config.enabled) return nullptr;
  std::string secret;
  if (!config.secret_file.empty()) {
    auto s = read_secret_file(config.secret_file);
    if (!s.ok()) throw std::runtime_error("--mesh-secret-file: " + s.error().message);
    secret = std::move(s).value();
  } else {
    log.warn("mesh: no --mesh-secret-file: peers are not authenticated (development only)");
  }
  if (const mesh::TlsFiles& tls = config.tls; tls.enabled()) {
    // Loaded again when the node starts; checked here so a bad file is a
    // configuration error of its own, not a failure to listen.
    auto ctx = mesh::make_tls_context(tls);
    if (!ctx) throw std::runtime_error("mesh TLS: " + ctx.error().message);
  }
  return std::unique_ptr<MeshGlue>(new MeshGlue(config, directory, clock, log, std::move(secret)));
}

MeshGlue::MeshGlue(const MeshSettings& settings, radix::WorkerDirectory& directory,
                   radix::HybridClock& clock, const Logger& log, std::string secret)
    : settings_(settings),
      directory_(directory),
      clock_(clock),
      log_(log),
      secret_(std::move(secret)),
      journal_(mesh::DeltaJournalConfig{}, directory),
      load_(mesh::LoadBoardConfig{}, [] { return static_cast<uint64_t>(steady_ms()); }),
      load_table_(directory.max_workers()) {}

MeshGlue::~MeshGlue() {
  stop();
}

MeshLoadFn MeshGlue::load_fn() {
  return load_table_.load_fn();
}

void MeshGlue::start(radix::TreeCatalog& trees, WorkerRegistry& registry,
                     MetricsRegistry& metrics) {
  registry_ = &registry;
  mesh::MeshNodeConfig cfg;
  cfg.node_id = settings_.node_id;
  cfg.bind_host = settings_.bind_host;
  cfg.port = settings_.port;
  cfg.advertise = settings_.advertise;
  cfg.seeds = settings_.peers;
  cfg.seeds_dns = settings_.peers_dns;
  cfg.dns_interval_ms = settings_.dns_interval_ms;
  cfg.secret = secret_;
  cfg.gossip_interval_ms = settings_.gossip_interval_ms;
  cfg.push_window_ms = settings_.push_window_ms;
  cfg.tls = settings_.tls;
  cfg.log = [&log = log_](bool warning, const std::string& line) {
    warning ? log.warn(line) : log.info(line);
  };
  LoadChangeSignal* signal = cfg.push_window_ms > 0 ? load_signal_.get() : nullptr;
  node_ = std::make_unique<mesh::MeshNode>(cfg, [this, &trees, signal](mesh::PeerSender& sender) {
    mesh::SyncEngineConfig sc;
    sc.wall_ms = wall_ms;
    auto engine =
        std::make_unique<mesh::SyncEngine>(sc, trees, directory_, clock_, journal_, load_, sender);
    auto hook = std::make_unique<TickHook>(
        std::move(engine), [this] { sample_local_load(); },
        [this](bool force) { refresh_mesh_load(force); }, signal);
    hook->set_follow_up([this] { node_->arm_follow_up_flush(); });
    engine_ = hook->engine();
    return hook;
  });
  try {
    node_->start(io_);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on mesh port " + settings_.bind_host + ":" +
                             std::to_string(settings_.port) + ": " + e.what());
  }
  if (cfg.push_window_ms > 0) {
    journal_.set_wake([node = node_.get()] { node->request_flush(); });
    load_signal_->set_wake([node = node_.get()] { node->request_flush(); });
  }
  metrics.add_collector(mesh_metrics_collector(*node_, engine_));
  if (cfg.tls.enabled()) metrics.add_collector(mesh_tls_metrics_collector(*node_));
  work_.emplace(boost::asio::make_work_guard(io_));
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rm-mesh");  // visible in top -H, /proc/PID/task
    io_.run();
  });
  log_.info("mesh: node " + settings_.node_id + " on port " + std::to_string(node_->port()) +
            ", advertising " + node_->advertise() + ", incarnation " +
            std::to_string(node_->incarnation()) + (cfg.tls.enabled() ? ", mutual TLS" : ""));
}

void MeshGlue::stop() {
  journal_.set_wake({});       // a barrier: no router thread calls into the node after this
  load_signal_->set_wake({});  // the same
  if (!thread_.joinable()) return;
  node_->stop();  // leave + close, waits for the mesh thread (bounded)
  work_.reset();
  io_.stop();
  thread_.join();
}

void MeshGlue::sample_local_load() {
  if (!registry_) return;
  auto snap = registry_->snapshot();
  for (const auto& w : snap->all) load_.set_local(directory_.key_of(w->id()), w->in_flight());
}

void MeshGlue::refresh_mesh_load(bool force) {
  if (!registry_) return;
  mesh::LoadBoard::Changed changed = load_.take_changed();
  if (force || changed.all) {
    load_table_.refresh(load_, directory_, *registry_->snapshot());
    return;
  }
  // A report or delta: only the workers it named (pushed every few ms).
  load_table_.refresh_keys(load_, directory_, changed.keys);
}

void MeshGlue::worker_added(radix::WorkerId id) {
  journal_.note_worker_event(mesh::WorkerEvent::Kind::kAdded, id, clock_.now().value);
}

void MeshGlue::worker_removed(radix::WorkerId id) {
  journal_.note_worker_event(mesh::WorkerEvent::Kind::kRemoved, id, clock_.now().value);
}

size_t MeshGlue::live_members() const {
  size_t n = 1;
  if (!node_) return n;
  for (const auto& p : node_->peers()) {
    if (p.state == mesh::MemberState::kAlive || p.state == mesh::MemberState::kSuspect) ++n;
  }
  return n;
}

nlohmann::json MeshGlue::peers_json() const {
  nlohmann::json out = nlohmann::json::array();
  if (!node_) return out;
  for (const auto& p : node_->peers()) {
    out.push_back({{"node_id", p.id},
                   {"address", p.address},
                   {"state", mesh::to_string(p.state)},
                   {"incarnation", p.incarnation},
                   {"connected", p.connected},
                   {"last_seen_ms_ago", p.last_seen_ms_ago}});
  }
  return out;
}

Collector mesh_metrics_collector(const mesh::MeshNode& node, const mesh::SyncEngine* engine) {
  return [&node, engine]() {
    using mesh::FrameType;
    std::vector<CollectedFamily> out;
    auto counter = [&](std::string name, std::string help, std::vector<std::string> labels) {
      CollectedFamily f;
      f.name = std::move(name);
      f.help = std::move(help);
      f.type = MetricType::kCounter;
      f.label_names = std::move(labels);
      out.push_back(std::move(f));
      return out.size() - 1;
    };
    const auto& s = node.stats();

    CollectedFamily peers{
        "radixmesh_mesh_peers", "Mesh members by SWIM state", MetricType::kGauge, {"state"}, {}};
    std::map<std::string, double> by_state{{"alive", 0}, {"suspect", 0}, {"dead", 0}, {"left", 0}};
    for (const auto& p : node.peers()) by_state[mesh::to_string(p.state)] += 1;
    for (const auto& [state, n] : by_state) peers.samples.push_back({{state}, n});
    out.push_back(std::move(peers));

    const size_t fs =
        counter("radixmesh_mesh_frames_sent_total", "Mesh frames sent by type", {"type"});
    const size_t bs = counter("radixmesh_mesh_bytes_sent_total",
                              "Mesh bytes sent by frame type (header included)", {"type"});
    const size_t fr =
        counter("radixmesh_mesh_frames_received_total", "Mesh frames received by type", {"type"});
    const size_t br = counter("radixmesh_mesh_bytes_received_total",
                              "Mesh bytes received by frame type (header included)", {"type"});
    for (int t = 1; t < mesh::kFrameTypeSlots; ++t) {
      if (!mesh::is_known_frame_type(static_cast<uint8_t>(t))) continue;
      const std::string name = mesh::to_string(static_cast<FrameType>(t));
      out[fs].samples.push_back({{name}, static_cast<double>(s.frames_sent[t].load())});
      out[bs].samples.push_back({{name}, static_cast<double>(s.bytes_sent[t].load())});
      out[fr].samples.push_back({{name}, static_cast<double>(s.frames_received[t].load())});
      out[br].samples.push_back({{name}, static_cast<double>(s.bytes_received[t].load())});
    }
    const size_t rj = counter("radixmesh_mesh_rejected_frames_total",
                              "Mesh frames rejected (connection closed) by reason", {"reason"});
    for (int r = 0; r < mesh::kRejectReasonCount; ++r)
      out[rj].samples.push_back({{mesh::to_string(static_cast<mesh::RejectReason>(r))},
                                 static_cast<double>(s.rejected[r].load())});

    // Connections and the inbound handshake admission (docs/mesh-protocol.md §3).
    const size_t cn =
        counter("radixmesh_mesh_connections_total",
                "Mesh TCP connections by direction (accepted, dialed)", {"direction"});
    out[cn].samples.push_back({{"accepted"}, static_cast<double>(s.connections_accepted.load())});
    out[cn].samples.push_back({{"dialed"}, static_cast<double>(s.connections_dialed.load())});
    const size_t df = counter("radixmesh_mesh_dial_failures_total",
                              "Mesh dials that failed (resolve, connect, timeout)", {});
    out[df].samples.push_back({{}, static_cast<double>(s.dial_failures.load())});
    const size_t hd =
        counter("radixmesh_mesh_handshakes_dropped_total",
                "Inbound mesh connections closed in their handshake, by reason", {"reason"});
    out[hd].samples.push_back(
        {{"evicted_per_source"}, static_cast<double>(s.handshakes_evicted_per_source.load())});
    out[hd].samples.push_back(
        {{"evicted_global"}, static_cast<double>(s.handshakes_evicted_global.load())});
    out[hd].samples.push_back(
        {{"first_frame_timeout"}, static_cast<double>(s.handshake_first_frame_timeouts.load())});
    out[hd].samples.push_back({{"timeout"}, static_cast<double>(s.handshake_timeouts.load())});
    CollectedFamily pending{"radixmesh_mesh_handshakes_pending",
                            "Inbound mesh connections in their handshake now",
                            MetricType::kGauge,
                            {},
                            {}};
    pending.samples.push_back({{}, static_cast<double>(s.handshakes_pending.load())});
    out.push_back(std::move(pending));

    if (engine) {
      const auto& y = engine->stats();
      auto one = [&](const char* name, const char* help, const std::atomic<uint64_t>& v) {
        const size_t i = counter(name, help, {});
        out[i].samples.push_back({{}, static_cast<double>(v.load())});
      };
      const size_t d = counter("radixmesh_mesh_deltas_applied_total",
                               "Tree delta records applied from peers", {"kind"});
      out[d].samples.push_back({{"insert"}, static_cast<double>(y.inserts_applied.load())});
      out[d].samples.push_back({{"evict"}, static_cast<double>(y.evictions_applied.load())});
      one("radixmesh_mesh_anchors_requested_total", "Anchor chains requested from peers",
          y.anchors_requested);
      one("radixmesh_mesh_snapshots_sent_total", "Snapshots sent to peers", y.snapshots_sent);
      one("radixmesh_mesh_snapshots_received_total", "Snapshots received and merged",
          y.snapshots_received);
      one("radixmesh_mesh_snapshot_bytes_sent_total", "Snapshot bytes sent", y.snapshot_bytes_sent);
      one("radixmesh_mesh_snapshot_bytes_received_total", "Snapshot bytes received",
          y.snapshot_bytes_received);
      CollectedFamily lag{"radixmesh_mesh_convergence_lag_seconds_avg",
                          "Mean delay from a change on a peer to its application here",
                          MetricType::kGauge,
                          {},
                          {}};
      const uint64_t n = y.lag_count.load();
      lag.samples.push_back({{}, n ? static_cast<double>(y.lag_sum_ms.load()) / n / 1000.0 : 0.0});
      out.push_back(std::move(lag));
      // The same as counters, so alerts can take a windowed mean:
      // rate(..._seconds_total[5m]) / rate(..._records_total[5m]).
      const size_t ls = counter("radixmesh_mesh_convergence_lag_seconds_total",
                                "Sum of the delays of the records counted in "
                                "radixmesh_mesh_convergence_lag_records_total",
                                {});
      out[ls].samples.push_back({{}, static_cast<double>(y.lag_sum_ms.load()) / 1000.0});
      const size_t lc = counter("radixmesh_mesh_convergence_lag_records_total",
                                "Tree records from peers whose delay was measured", {});
      out[lc].samples.push_back({{}, static_cast<double>(n)});
    }
    return out;
  };
}

Collector mesh_tls_metrics_collector(const mesh::MeshNode& node) {
  return [&node]() {
    const auto& s = node.stats();
    std::vector<CollectedFamily> out;
    CollectedFamily ok{"radixmesh_mesh_tls_handshakes_total",
                       "Mesh TLS handshakes that succeeded (both directions)",
                       MetricType::kCounter,
                       {},
                       {}};
    ok.samples.push_back({{}, static_cast<double>(s.tls_handshakes.load())});
    out.push_back(std::move(ok));
    CollectedFamily failed{"radixmesh_mesh_tls_handshake_failures_total",
                           "Mesh peers refused by the TLS layer before any mesh frame, by reason",
                           MetricType::kCounter,
                           {"reason"},
                           {}};
    for (int r = 0; r < mesh::kTlsFailureCount; ++r)
      failed.samples.push_back({{mesh::to_string(static_cast<mesh::TlsFailure>(r))},
                                static_cast<double>(s.tls_failures[r].load())});
    out.push_back(std::move(failed));
    CollectedFamily reloads{"radixmesh_mesh_tls_reloads_total",
                            "Mesh TLS certificate reloads (file change or SIGHUP), by result",
                            MetricType::kCounter,
                            {"result"},
                            {}};
    reloads.samples.push_back({{"ok"}, static_cast<double>(s.tls_reloads_ok.load())});
    reloads.samples.push_back({{"error"}, static_cast<double>(s.tls_reloads_failed.load())});
    out.push_back(std::move(reloads));
    return out;
  };
}

}  // namespace radixmesh::router
