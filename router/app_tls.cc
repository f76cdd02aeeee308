// App: TLS wiring (router/app.h). The data-plane contexts are loaded at
// start-up (a bad pair is a start-up error) and re-loaded on a thread of
// their own: every --tls-reload-interval-ms when the files changed, and on
// SIGHUP. New connections get the new pair; a bad new pair keeps the old one
// serving, is logged and counted (radixmesh_tls_reload_total{result}).
#include <csignal>
#include <stdexcept>

#include "router/app.h"

namespace radixmesh::router {

void App::setup_tls() {
  const TlsSettings& t = options_.tls;
  tls::ClientOptions upstream;
  upstream.ca_file = t.upstream_ca_file;
  upstream.verify = !t.upstream_insecure;
  auto client = tls::make_client_context(upstream);
  if (!client) throw std::runtime_error("upstream TLS: " + client.error().message);
  upstream_tls_ = std::move(*client);
  if (t.upstream_insecure) log_.warn("--upstream-tls-insecure: https:// workers are not verified");
  if (t.cert_file.empty()) return;
  tls::ReloadingContext::Options o;
  o.cert_file = t.cert_file;
  o.key_file = t.key_file;
  auto contexts = tls::ReloadingContext::create(o);
  if (!contexts) throw std::runtime_error("--tls-cert-file: " + contexts.error().message);
  tls_contexts_ = std::move(*contexts);
  families_.tls_reloads.with({"ok"});  // exported at 0 from the start
  families_.tls_reloads.with({"error"});
  tls_acceptor_ = std::make_unique<TlsAcceptor>(
      *tls_contexts_, t.handshake_timeout, &families_);
  log_.info("data plane TLS: " + tls::describe_certificate(*tls_contexts_->current()));
}

void App::start_tls_reloads() {
  const bool mesh_tls = mesh_ && options_.mesh.tls.enabled();
  if (!tls_contexts_ && !mesh_tls) return;
  tls_thread_ = std::make_unique<net::thread_pool>(1);
  tls_timer_ = std::make_unique<net::steady_timer>(tls_thread_->get_executor());
  hup_signals_ = std::make_unique<net::signal_set>(tls_thread_->get_executor(), SIGHUP);
  // The mesh polls its own files (mesh/tls_credentials.h); SIGHUP reaches both.
  if (tls_contexts_) net::co_spawn(tls_thread_->get_executor(), tls_poll_loop(), net::detached);
  net::post(tls_thread_->get_executor(), [this] { wait_for_sighup(); });
}

void App::stop_tls_reloads() {
  if (!tls_thread_) return;
  net::post(tls_thread_->get_executor(), [this] {
    error_code ignored;
    tls_timer_->cancel();
    hup_signals_->cancel(ignored);
  });
}

void App::reload_tls(bool force, const char* trigger) {
  std::string why;
  switch (tls_contexts_->poll(force, &why)) {
    case tls::ReloadingContext::Outcome::kUnchanged:
      break;
    case tls::ReloadingContext::Outcome::kReloaded:
      families_.tls_reloads.with({"ok"})->inc();
      log_.info(std::string("tls certificate reloaded (") + trigger + "): " + why);
      break;
    case tls::ReloadingContext::Outcome::kFailed:
      families_.tls_reloads.with({"error"})->inc();
      log_.error(std::string("tls certificate reload (") + trigger + ") failed: " + why);
      break;
  }
}

awaitable<void> App::tls_poll_loop() {
  while (!shutdown_started_.load()) {
    tls_timer_->expires_after(options_.tls.reload_interval);
    auto [ec] = co_await tls_timer_->async_wait(use_tuple);
    if (ec) break;
    reload_tls(false, "file change");
  }
}

void App::wait_for_sighup() {
  hup_signals_->async_wait([this](error_code ec, int) {
    if (ec || shutdown_started_.load()) return;
    if (tls_contexts_) reload_tls(true, "SIGHUP");
    if (mesh_ && options_.mesh.tls.enabled()) {
      log_.info("SIGHUP: re-reading the mesh TLS files");
      mesh_->reload_tls();
    }
    wait_for_sighup();
  });
}

}  // namespace radixmesh::router
