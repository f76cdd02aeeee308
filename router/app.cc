#include "router/app.h"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "router/fd_budget.h"

namespace radixmesh::router {
namespace {

std::unique_ptr<policies::Policy> make_policy_or_throw(const policies::PolicyConfig& config) {
  auto p = policies::make_policy(config);
  if (!p.ok()) throw std::runtime_error("policy: " + p.error().message);
  return std::move(p).value();
}

radix::PrefixTree::Options tree_options(const TreeSettings& c,
                                        const radix::WorkerDirectory* directory,
                                        const radix::WorkerBudgets* budgets) {
  radix::PrefixTree::Options o;
  o.max_blocks_per_worker = c.max_blocks_per_worker;
  o.max_bytes = c.memory_budget_bytes;
  o.workers = directory;
  o.budgets = budgets;
  return o;
}

// Raises the open-files soft limit to the hard one and picks the data-plane
// connection cap (router/fd_budget.h); logs both.
uint64_t connection_cap(const ListenSettings& c, const Logger& log) {
  const OpenFilesLimit limit = raise_open_files_limit();
  if (!limit.error.empty()) log.warn("open-files limit: " + limit.error);
  const uint64_t cap =
      c.max_connections > 0 ? c.max_connections : default_max_connections(limit.soft);
  std::string line = "open-files limit " + std::to_string(limit.soft);
  if (limit.soft != limit.soft_before) {
    line += " (raised from " + std::to_string(limit.soft_before) + ")";
  }
  line += ", hard " + std::to_string(limit.hard) + "; max connections " + std::to_string(cap) +
          (c.max_connections > 0 ? " (--max-connections)" : " (derived)");
  log.info(line);
  if (c.max_connections > 0 && cap > default_max_connections(limit.soft)) {
    log.warn("--max-connections " + std::to_string(cap) + " leaves little room under the " +
             "open-files limit for upstream, health-check, admin and mesh sockets");
  }
  return cap;
}

constexpr size_t kMaxModels = 1024;
constexpr size_t kMaxWorkers = 4096;

}  // namespace

App::IoThread::IoThread(const App& app, size_t index) {
  const ComponentOptions& o = app.options_;
  UpstreamPool::Options pool = o.pool;
  pool.tls = app.upstream_tls_.get();
  state = std::make_unique<IoThreadState>(
      ioc.get_executor(), pool, o.routing.parse_limits,
      0x9E3779B97F4A7C15ULL * (index + 1) ^ static_cast<uint64_t>(now_ms()) ^
          std::hash<std::string>{}(o.listen.node_id));  // routers started together still differ
}

App::App(RouterConfig config, const Logger& log)
    : config_(std::move(config)),
      options_(component_options(config_)),
      log_(log),
      families_(metrics_),
      directory_(kMaxWorkers),
      budgets_(kMaxWorkers, options_.trees.max_blocks_per_worker),
      clock_(radix::system_physical_ms),
      broker_(options_.trees.memory_budget_bytes),
      body_budget_(options_.trees.max_inflight_body_bytes),
      mesh_(MeshGlue::create(options_.mesh, directory_, clock_, log_)),
      // Mesh seam: the mesh passes its TreeObserver here (inserts and
      // evictions become gossip deltas). nullptr: single-node routing.
      trees_(tree_options(options_.trees, &directory_,
                          options_.trees.capacity_estimate ? &budgets_ : nullptr),
             kMaxModels, &broker_, mesh_ ? mesh_->observer() : nullptr),
      policy_(make_policy_or_throw(options_.pd.mode == PdMode::kOff ? options_.policy
                                                                    : options_.pd.prefill_policy)),
      registry_(WorkerRegistry::Options{kMaxWorkers, options_.breaker},
                [this](const std::string& url) { return directory_.intern(url); }) {
  dp_metrics_ = std::make_unique<DataPlaneMetrics>(
      metrics_, families_,
      options_.pd.mode == PdMode::kOff ? options_.policy.name : options_.pd.prefill_policy.name);
  broker_.add(&body_budget_);
  setup_tls();  // before the io threads: their pools use the upstream context

  RoutingOptions routing = options_.routing;
  if (options_.trees.capacity_estimate) routing.budgets = &budgets_;
  // Mesh seam: the mesh's load board supplies other routers' in-flight
  // counts per worker here. Empty: 0 (this router's own counts only).
  MeshLoadFn mesh_load = mesh_ ? mesh_->load_fn() : MeshLoadFn{};
  // Admission: workers capped at --max-in-flight-per-worker, the rest queue.
  if (options_.admission) {
    AdmissionMetrics am;
    am.wait_seconds = families_.admission_wait.with({});
    am.depth = families_.admission_depth.with({});
    am.rejected_full = families_.admission_rejected.with({"queue_full"});
    am.rejected_timeout = families_.admission_rejected.with({"timeout"});
    am.client_gone = families_.admission_rejected.with({"client_gone"});
    admission_ = std::make_shared<AdmissionQueue>(*options_.admission, std::move(am));
    routing.slot_listener = admission_;
  }
  if (options_.pd.mode != PdMode::kOff) {
    decode_registry_ = std::make_unique<WorkerRegistry>(
        WorkerRegistry::Options{kMaxWorkers, options_.breaker},
        [this](const std::string& url) { return directory_.intern(url); });
    decode_policy_ = make_policy_or_throw(options_.pd.decode_policy);
    RoutingOptions decode = routing;
    decode.slot_listener = nullptr;  // decode slots do not queue: a full pool answers 503
    decode.tree_suffix = std::string(kDecodeTreeSuffix);
    decode_engine_ =
        std::make_unique<RoutingEngine>(*decode_registry_, trees_, *decode_policy_, clock_, decode,
                                        mesh_load, mesh_ ? mesh_->load_signal() : nullptr);
  }
  engine_ =
      std::make_unique<RoutingEngine>(registry_, trees_, *policy_, clock_, routing,
                                      std::move(mesh_load), mesh_ ? mesh_->load_signal() : nullptr);
  if (decode_engine_) {
    std::unordered_map<std::string, uint16_t> overrides;
    for (const auto& [url, port] : options_.pd.bootstrap_overrides) {
      auto address = parse_worker_url(url);
      if (!address) throw std::runtime_error("--prefill " + url + ": " + address.error().message);
      overrides[address->url] = port;
    }
    pd_ = std::make_unique<PdRouting>(options_.pd.mode, *decode_engine_, options_.pd.bootstrap_port,
                                      std::move(overrides), options_.pd.bypass_bytes);
  }

  if (options_.cache_feedback) {
    feedback_ =
        std::make_unique<CacheFeedback>(trees_, routing.block_bytes, &metrics_,
                                        options_.trees.capacity_estimate ? &budgets_ : nullptr);
  }
  proxy_ = std::make_unique<Proxy>(*engine_, options_.proxy, dp_metrics_.get(), feedback_.get(),
                                   admission_.get(), pd_.get());

  if (options_.access.keys) {
    std::function<size_t()> members;
    if (mesh_) members = [m = mesh_.get()] { return m->live_members(); };
    api_keys_ = std::make_unique<ApiKeyStore>(*options_.access.keys,
                                              std::move(members));  // throws on a bad file
    families_.api_keys.with({})->set(static_cast<double>(api_keys_->current()->size()));
    log_.info("api keys: " + std::to_string(api_keys_->current()->size()) + " loaded from " +
              options_.access.keys->path);
  }

  HandlerOptions handler = options_.handler;
  handler.api_keys = api_keys_.get();
  handler.decode_registry = decode_registry_.get();
  dp_metrics_->set_pool_limit(handler.pool_limit_per_worker);
  handler_ = std::make_unique<RequestHandler>(*engine_, *proxy_, registry_, dp_metrics_.get(),
                                              state_, handler);

  for (size_t i = 0; i < options_.listen.threads; ++i) {
    threads_.push_back(std::make_unique<IoThread>(*this, i));
  }
  auto& control = threads_.front()->ioc;

  HealthChecker::Options health = options_.health;
  health.tls = upstream_tls_.get();
  health_ = std::make_unique<HealthChecker>(control.get_executor(), registry_, health,
                                            dp_metrics_.get(), log_);
  if (decode_registry_) {  // each checker keeps its own pool's model lists
    decode_health_ = std::make_unique<HealthChecker>(control.get_executor(), *decode_registry_,
                                                     health, dp_metrics_.get(), log_);
  }
  if (options_.load_poll) {
    MetricsPoller::Options load_poll = *options_.load_poll;
    load_poll.tls = upstream_tls_.get();
    load_poller_ =
        std::make_unique<MetricsPoller>(control.get_executor(), load_poll, dp_metrics_.get(), log_);
  }
  for (WorkerRegistry* pool : {&registry_, decode_registry_.get()}) {
    if (!pool) continue;
    const std::string role = !decode_registry_    ? "worker"
                             : pool == &registry_ ? "prefill worker"
                                                  : "decode worker";
    HealthChecker* checker = pool == &registry_ ? health_.get() : decode_health_.get();
    pool->set_on_added([this, role, checker](const std::shared_ptr<Worker>& w) {
      log_.info(role + " added: " + w->url());
      checker->watch(w);
      if (load_poller_) load_poller_->watch(w);
      if (mesh_) mesh_->worker_added(w->id());
    });
    pool->set_on_removed([this, role](const std::shared_ptr<Worker>& w) {
      // Erase it from every tree now, not when LRU gets to it.
      const size_t n = trees_.remove_worker_everywhere(w->id());
      log_.info(role + " removed: " + w->url() + " (" + std::to_string(n) + " tree blocks erased)");
      if (mesh_) mesh_->worker_removed(w->id());
    });
  }

  std::vector<Listener::Thread> listener_threads;
  for (auto& t : threads_) listener_threads.push_back({&t->ioc, t->state.get()});
  SessionOptions session = options_.session;
  session.body_budget = &body_budget_;
  const ListenSettings& listen = options_.listen;
  error_code ec;
  const auto address = net::ip::make_address(listen.host, ec);
  if (ec) throw std::runtime_error("--host " + listen.host + ": not an IP address");
  const uint64_t max_connections = connection_cap(listen, log_);
  try {
    listener_ = std::make_unique<Listener>(
        control, tcp::endpoint(address, listen.port), std::move(listener_threads), *handler_,
        session, max_connections, &families_, [this](const std::string& m) { log_.error(m); },
        tls_acceptor_.get());
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + listen.host + ":" + std::to_string(listen.port) +
                             ": " + e.code().message());
  }

  start_admin();

  if (mesh_) mesh_->start(trees_, registry_, metrics_);

  signals_ = std::make_unique<net::signal_set>(control, SIGINT, SIGTERM);
  signals_->async_wait([this](error_code e, int sig) {
    if (e) return;
    log_.info("signal " + std::to_string(sig) + ": shutting down");
    request_shutdown();
  });
  broker_timer_ = std::make_unique<net::steady_timer>(control);
  if (api_keys_) keys_timer_ = std::make_unique<net::steady_timer>(control);

  add_configured_workers();
}

App::~App() {
  // Reached after run() returned cleanly: no coroutine is left on any
  // io_context. Io objects go before their io_contexts (member order).
  listener_.reset();
  if (tls_thread_) {
    tls_thread_->stop();
    tls_thread_->join();
  }
  hup_signals_.reset();
  tls_timer_.reset();
  tls_thread_.reset();
  admin_server_.reset();
  signals_.reset();
  broker_timer_.reset();
  keys_timer_.reset();
  dns_.reset();
  decode_dns_.reset();
  health_.reset();
  decode_health_.reset();
  load_poller_.reset();
  threads_.clear();
  broker_.remove(&body_budget_);
}

void App::add_configured_workers() {
  std::vector<std::string> urls = options_.workers.urls;
  if (!options_.workers.file.empty()) {
    std::ifstream in(options_.workers.file);
    if (!in) throw std::runtime_error("--workers-file " + options_.workers.file + ": cannot read");
    std::string line;
    while (std::getline(in, line)) {
      const size_t hash = line.find('#');
      if (hash != std::string::npos) line.resize(hash);
      const size_t b = line.find_first_not_of(" \t\r");
      if (b == std::string::npos) continue;
      const size_t e = line.find_last_not_of(" \t\r");
      urls.push_back(line.substr(b, e - b + 1));
    }
  }
  auto add_all = [](WorkerRegistry& pool, const std::vector<std::string>& list, const char* flag) {
    for (const auto& url : list) {
      auto added = pool.add(url);
      if (!added.ok()) throw std::runtime_error(flag + url + ": " + added.error().message);
    }
  };
  auto discover = [this](WorkerRegistry& pool, const std::string& name) {
    return std::make_unique<DnsDiscovery>(threads_.front()->ioc.get_executor(), pool,
                                          DnsDiscovery::parse(name, options_.workers.dns_interval),
                                          log_);
  };
  if (decode_registry_) {  // PD mode: --worker and friends were refused
    add_all(registry_, options_.pd.prefill_urls, "prefill worker ");
    add_all(*decode_registry_, options_.pd.decode_urls, "decode worker ");
    if (!options_.pd.prefill_dns.empty()) dns_ = discover(registry_, options_.pd.prefill_dns);
    if (!options_.pd.decode_dns.empty()) {
      decode_dns_ = discover(*decode_registry_, options_.pd.decode_dns);
    }
    return;
  }
  add_all(registry_, urls, "worker ");
  if (!options_.workers.dns.empty()) dns_ = discover(registry_, options_.workers.dns);
}

awaitable<void> App::maintenance_loop(IoThread* thread) {
  // Closes idle upstream connections past keep-alive and those of removed
  // workers. Ends when the timer is cancelled at shutdown.
  for (;;) {
    thread->maintenance.expires_after(std::chrono::seconds(2));
    auto [ec] = co_await thread->maintenance.async_wait(use_tuple);
    if (ec) break;
    thread->state->pool.prune();
  }
}

awaitable<void> App::broker_loop() {
  // The memory broker relieves pressure across trees (and mesh buffers).
  while (!shutdown_started_.load()) {
    broker_timer_->expires_after(std::chrono::milliseconds(250));
    auto [ec] = co_await broker_timer_->async_wait(use_tuple);
    if (ec) break;
    broker_.tick();
    uint64_t max_ns = 0;
    for (const auto& [model, tree] : trees_.all()) {
      max_ns = std::max<uint64_t>(max_ns, tree->take_max_lock_hold_ns());
    }
    families_.lock_hold_max.with({"tree_shard"})->set_max(static_cast<double>(max_ns) * 1e-9);
  }
}

awaitable<void> App::api_keys_loop() {
  // Re-reads --api-keys-file when it changed; a bad file keeps the old keys.
  // A stat per period; the read and parse only after a change.
  auto& ok = *families_.api_key_reloads.with({"ok"});
  auto& failed = *families_.api_key_reloads.with({"error"});
  auto& count = *families_.api_keys.with({});
  while (!shutdown_started_.load()) {
    keys_timer_->expires_after(options_.access.keys_poll);
    auto [ec] = co_await keys_timer_->async_wait(use_tuple);
    if (ec) break;
    std::string why;
    switch (api_keys_->poll(&why)) {
      case ApiKeyStore::Reload::kUnchanged:
        break;
      case ApiKeyStore::Reload::kReloaded:
        ok.inc();
        count.set(static_cast<double>(api_keys_->current()->size()));
        log_.info("api keys reloaded from " + options_.access.keys->path + ": " + why);
        break;
      case ApiKeyStore::Reload::kFailed:
        failed.inc();
        log_.error("api keys: " + options_.access.keys->path + ": " + why);
        break;
    }
  }
}

void App::request_shutdown() {
  if (shutdown_started_.exchange(true)) return;
  net::co_spawn(threads_.front()->ioc, shutdown_sequence(), net::detached);
  std::lock_guard lock(run_mu_);
  run_cv_.notify_all();
}

awaitable<void> App::shutdown_sequence() {
  // 1. Stop accepting, fail readiness, close idle keep-alive connections.
  state_.draining.store(true);
  listener_->stop();
  for (auto& t : threads_) {
    net::post(t->ioc, [s = t->state.get()] { s->sessions.close_idle(); });
  }
  // 2. Let active requests finish, up to the grace deadline.
  const auto deadline = Clock::now() + options_.listen.shutdown_grace;
  net::steady_timer poll(threads_.front()->ioc);
  while (state_.active_requests.load() > 0 && Clock::now() < deadline) {
    poll.expires_after(std::chrono::milliseconds(20));
    co_await poll.async_wait(use_tuple);
  }
  const int64_t left = state_.active_requests.load();
  if (left > 0) {
    log_.warn("shutdown grace period over: closing " + std::to_string(left) + " active request(s)");
  } else {
    log_.info("all requests finished");
  }
  // 3. Close everything left; the io threads then run out of work.
  health_->stop();
  if (decode_health_) decode_health_->stop();
  if (load_poller_) load_poller_->stop();
  if (dns_) dns_->stop();
  if (decode_dns_) decode_dns_->stop();
  admin_server_->stop();
  signals_->cancel();
  broker_timer_->cancel();
  if (keys_timer_) keys_timer_->cancel();
  stop_tls_reloads();
  for (auto& t : threads_) {
    net::post(t->ioc, [s = t->state.get()] {
      s->sessions.close_all();
      s->pool.shutdown();
    });
    net::post(t->ioc, [th = t.get()] { th->maintenance.cancel(); });
  }
  work_.clear();
}

// {"port": P, "admin_port": A, "mesh_port": M} into --port-file: written to
// FILE.tmp and renamed, so a reader never sees half of it. A failure is a
// start-up error (whoever asked for the file waits for it).
void App::write_port_file() const {
  const std::string& path = options_.listen.port_file;
  const nlohmann::json ports = {{"port", data_endpoint().port()},
                                {"admin_port", admin_endpoint().port()},
                                {"mesh_port", mesh_ ? mesh_->port() : 0}};
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ports.dump() << "\n";
    if (!out.flush()) throw std::runtime_error("--port-file " + path + ": cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("--port-file " + path + ": cannot rename " + tmp);
  }
  log_.info("bound ports written to " + path + ": " + ports.dump());
}

bool App::run() {
  listener_->start();
  net::co_spawn(threads_.front()->ioc, broker_loop(), net::detached);
  if (api_keys_) net::co_spawn(threads_.front()->ioc, api_keys_loop(), net::detached);
  start_tls_reloads();
  if (dns_) dns_->start();
  if (decode_dns_) decode_dns_->start();
  for (auto& t : threads_) net::co_spawn(t->ioc, maintenance_loop(t.get()), net::detached);
  log_.info(std::string("radixmesh listening on ") + (tls_acceptor_ ? "https://" : "") +
            options_.listen.host + ":" + std::to_string(data_endpoint().port()) + " (" +
            std::to_string(threads_.size()) + " io threads, " +
            (pd_ ? "pd-mode " + std::string(to_string(pd_->mode())) + ", prefill policy " +
                       options_.pd.prefill_policy.name + ", decode policy " +
                       options_.pd.decode_policy.name
                 : "policy " + options_.policy.name) +
            ")");
  if (!options_.listen.port_file.empty()) write_port_file();

  for (auto& t : threads_) work_.push_back(net::make_work_guard(t->ioc));
  {
    std::lock_guard lock(run_mu_);
    threads_running_ = threads_.size();
  }
  for (auto& t : threads_) {
    t->thread = std::thread([this, ioc = &t->ioc] {
      ioc->run();
      std::lock_guard lock(run_mu_);
      --threads_running_;
      run_cv_.notify_all();
    });
  }
  // Wait for a shutdown request; then give the threads a bounded time (the
  // grace period plus a margin) to run out of work.
  std::unique_lock lock(run_mu_);
  run_cv_.wait(lock, [&] { return threads_running_ == 0 || shutdown_started_.load(); });
  if (mesh_) {  // graceful leave while the data plane drains
    lock.unlock();
    mesh_->stop();
    lock.lock();
  }
  const bool clean =
      run_cv_.wait_for(lock, options_.listen.shutdown_grace + std::chrono::seconds(5),
                       [&] { return threads_running_ == 0; });
  lock.unlock();
  if (!clean) {
    log_.error("io threads did not stop in time; exiting without cleanup");
    for (auto& t : threads_) t->ioc.stop();
  }
  for (auto& t : threads_) {
    if (t->thread.joinable()) t->thread.join();
  }
  return clean;
}

}  // namespace radixmesh::router
