// App: the composition root of the radixmesh daemon.
//
// Builds every component from the options router/component_options.h maps
// the RouterConfig to (never from RouterConfig fields), wires them, runs the io
// threads and shuts down in order. Nothing else constructs shared services:
// there are no singletons; everything below is owned here and passed by
// reference.
//
//   RouterConfig ─> WorkerDirectory, HybridClock, MemoryBroker (+ BodyBudget), TreeCatalog
//                   Policy, WorkerRegistry (workers from flags/file/DNS/admin)
//                   RoutingEngine ─> Proxy ─> RequestHandler ─> Listener
//                   HealthChecker, per-thread IoThreadState (pool, parser)
//                   MetricsRegistry + RouterMetrics + DataPlaneMetrics
//
// Shutdown (SIGTERM/SIGINT or request_shutdown()):
//   1. stop accepting; /readiness answers 503; keep-alive is refused;
//      idle client connections are closed;
//   2. wait until no request is active, at most --shutdown-grace-ms;
//   3. close every remaining connection, stop health checks and timers;
//      the io threads run out of work and exit.
//
// Threads: construct and run() on the main thread; request_shutdown() from
// any thread. Accessors are for the admin API and tests, valid while the
// App lives.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include "policies/policy.h"
#include "radix/hlc.h"
#include "radix/memory_broker.h"
#include "radix/tree_catalog.h"
#include "radix/worker_budgets.h"
#include "radix/worker_directory.h"
#include "router/admin_api.h"
#include "router/admin_server.h"
#include "router/body_budget.h"
#include "router/component_options.h"
#include "router/config.h"
#include "router/data_plane_metrics.h"
#include "router/dns_discovery.h"
#include "router/health_checker.h"
#include "router/listener.h"
#include "router/log.h"
#include "router/mesh_glue.h"
#include "router/metrics.h"
#include "router/metrics_catalog.h"
#include "router/metrics_poller.h"
#include "router/proxy.h"
#include "router/request_handler.h"
#include "router/routing_engine.h"
#include "router/tls_acceptor.h"
#include "router/tls_reloading_context.h"
#include "router/worker_registry.h"

namespace radixmesh::router {

class App {
 public:
  // Throws std::runtime_error on start-up errors (bad worker URL, port in use).
  App(RouterConfig config, const Logger& log);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Runs until shutdown has completed. Returns true when every io thread
  // ended by itself; false when some had to be abandoned after the deadline
  // (the caller should then exit without running destructors).
  bool run();
  void request_shutdown();

  const RouterConfig& config() const { return config_; }
  WorkerRegistry& registry() { return registry_; }                      // PD mode: the prefill pool
  WorkerRegistry* decode_registry() { return decode_registry_.get(); }  // null: not PD mode
  radix::TreeCatalog& trees() { return trees_; }
  radix::WorkerDirectory& directory() { return directory_; }
  radix::MemoryBroker& broker() { return broker_; }
  radix::HybridClock& clock() { return clock_; }
  const RoutingEngine& engine() const { return *engine_; }
  MetricsRegistry& metrics() { return metrics_; }
  ServerState& server_state() { return state_; }
  tcp::endpoint data_endpoint() const { return listener_->local_endpoint(); }
  tcp::endpoint admin_endpoint() const { return admin_server_->local_endpoint(); }

 private:
  struct IoThread {
    explicit IoThread(const App& app, size_t index);
    net::io_context ioc{1};
    std::unique_ptr<IoThreadState> state;
    net::steady_timer maintenance{ioc};  // periodic pool pruning
    std::thread thread;
  };

  void add_configured_workers();
  // Admin API wiring (router/admin_app.cc): collectors, AdminApi, AdminServer
  // (which runs on a thread of its own, never on an io thread).
  void start_admin();
  awaitable<void> broker_loop();
  awaitable<void> api_keys_loop();
  // --tls-cert-file reloads (router/app_tls.cc): the file poll and SIGHUP,
  // on a thread of their own (reading files never stalls an io thread).
  void setup_tls();
  void start_tls_reloads();
  void stop_tls_reloads();
  void reload_tls(bool force, const char* trigger);
  awaitable<void> tls_poll_loop();
  void wait_for_sighup();
  static awaitable<void> maintenance_loop(IoThread* thread);
  awaitable<void> shutdown_sequence();
  void write_port_file() const;
  void finish_threads();

  RouterConfig config_;  // shown by the admin API; components read options_
  const ComponentOptions options_;
  const Logger& log_;

  MetricsRegistry metrics_;
  RouterMetrics families_;
  std::unique_ptr<DataPlaneMetrics> dp_metrics_;

  radix::WorkerDirectory directory_;
  radix::WorkerBudgets budgets_;  // capacity estimates; before trees_, which read it
  radix::HybridClock clock_;
  radix::MemoryBroker broker_;
  BodyBudget body_budget_;          // a pool of broker_ (not relievable)
  std::unique_ptr<MeshGlue> mesh_;  // before trees_: the trees report to its journal
  radix::TreeCatalog trees_;
  std::unique_ptr<policies::Policy> policy_;
  WorkerRegistry registry_;  // PD mode: the prefill pool
  std::unique_ptr<RoutingEngine> engine_;
  // PD mode (--pd-mode, router/pd_routing.h): the decode pool, its policy and
  // engine, what the proxy reads of both pools. Null otherwise.
  std::unique_ptr<WorkerRegistry> decode_registry_;
  std::unique_ptr<policies::Policy> decode_policy_;
  std::unique_ptr<RoutingEngine> decode_engine_;
  std::unique_ptr<PdRouting> pd_;
  std::unique_ptr<CacheFeedback> feedback_;    // null with --cache-feedback=false
  std::shared_ptr<AdmissionQueue> admission_;  // null without --max-in-flight-per-worker
  std::unique_ptr<Proxy> proxy_;
  std::unique_ptr<ApiKeyStore> api_keys_;  // null without --api-keys-file
  // TLS: the data-plane contexts and acceptor (null: plain HTTP), the client
  // context for https:// workers (always built; unused without them).
  std::unique_ptr<tls::ReloadingContext> tls_contexts_;
  std::unique_ptr<TlsAcceptor> tls_acceptor_;
  std::shared_ptr<ssl::context> upstream_tls_;
  ServerState state_;
  std::unique_ptr<RequestHandler> handler_;

  // Io threads last among the data members that coroutines use, so that they
  // are destroyed first (see ~App).
  std::vector<std::unique_ptr<IoThread>> threads_;
  std::unique_ptr<HealthChecker> health_;
  std::unique_ptr<HealthChecker> decode_health_;  // PD mode: the decode pool's checks
  std::unique_ptr<MetricsPoller> load_poller_;    // null with --metrics-interval-ms 0
  std::unique_ptr<DnsDiscovery> dns_;             // --workers-dns (PD: --prefill-dns), when set
  std::unique_ptr<DnsDiscovery> decode_dns_;      // PD: --decode-dns, when set
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<AdminApi> admin_api_;
  std::unique_ptr<AdminServer> admin_server_;
  std::unique_ptr<net::signal_set> signals_;
  std::unique_ptr<net::steady_timer> broker_timer_;
  std::unique_ptr<net::steady_timer> keys_timer_;  // --api-keys-file re-read poll
  std::unique_ptr<net::thread_pool> tls_thread_;   // with TLS: reloads run here
  std::unique_ptr<net::steady_timer> tls_timer_;   // on tls_thread_
  // On tls_thread_: SIGHUP re-reads the data-plane and the mesh TLS files.
  // Only installed with one of them (else SIGHUP keeps its default action).
  std::unique_ptr<net::signal_set> hup_signals_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::atomic<bool> shutdown_started_{false};
  std::mutex run_mu_;
  std::condition_variable run_cv_;  // run() waits on it for shutdown / thread exit
  size_t threads_running_ = 0;      // guarded by run_mu_
};

}  // namespace radixmesh::router
