// The composition root's admin wiring: scrape-time collectors, the AdminApi
// over the App's components and the AdminServer on its own thread.
// Kept apart from app.cc so the data plane's composition stays readable.
#include <stdexcept>

#include "router/admin_collectors.h"
#include "router/app.h"

#ifndef RADIXMESH_VERSION
#define RADIXMESH_VERSION "dev"
#endif

namespace radixmesh::router {

void App::start_admin() {
  register_state_collectors(metrics_, trees_, directory_, &broker_);
  register_body_budget_collector(metrics_, body_budget_);

  std::string token;
  if (!options_.admin.token_file.empty()) {
    auto t = read_secret_file(options_.admin.token_file);
    if (!t.ok()) throw std::runtime_error("--admin-token-file: " + t.error().message);
    token = std::move(t).value();
  }
  AdminContext ctx;
  ctx.config = &config_;
  ctx.version = RADIXMESH_VERSION;
  ctx.registry = &registry_;
  ctx.trees = &trees_;
  ctx.directory = &directory_;
  ctx.broker = &broker_;
  ctx.metrics = &metrics_;
  ctx.engine = engine_.get();
  ctx.decode_registry = decode_registry_.get();
  ctx.decode_engine = decode_engine_.get();
  if (mesh_) ctx.peers = [m = mesh_.get()] { return m->peers_json(); };
  if (dp_metrics_) {
    // In-flight and breaker state change per request: read them at scrape
    // time, not only when the health checker last ran.
    ctx.before_scrape = [this] {
      const int64_t now = now_ms();
      for (const WorkerRegistry* pool : {&registry_, decode_registry_.get()}) {
        if (!pool) continue;
        const auto snapshot = pool->snapshot();
        for (const auto& w : snapshot->all) {
          if (!w->removed()) dp_metrics_->refresh_worker(*w, now);
        }
      }
    };
  }
  admin_api_ = std::make_unique<AdminApi>(std::move(ctx), std::move(token));

  const AdminServer::Options& o = options_.admin.server;
  admin_server_ = std::make_unique<AdminServer>(*admin_api_, o,
                                                [this](const std::string& m) { log_.error(m); });
  admin_server_->start();  // binds now: a busy port is a start-up error
  log_.info("admin API listening on " + o.host + ":" +
            std::to_string(admin_server_->local_endpoint().port()) +
            (options_.admin.token_file.empty() ? "" : " (bearer token)"));
}

}  // namespace radixmesh::router
