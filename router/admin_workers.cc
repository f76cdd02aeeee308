// Admin handlers for workers: list, add, remove, drain (see admin_api.h).
#include "router/admin_api.h"
#include "router/net.h"

namespace radixmesh::router {
namespace {

const char* breaker_name(CircuitBreaker::State s) {
  switch (s) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kHalfOpen:
      return "half_open";
    case CircuitBreaker::State::kOpen:
      return "open";
  }
  return "unknown";
}

// {"url": "..."} from a request body; the error response otherwise.
Result<std::string> url_from_body(const std::string& body, nlohmann::json* parsed = nullptr) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "body must be a JSON object {\"url\": ...}");
  }
  auto it = j.find("url");
  if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
    return make_error(ErrorCode::kInvalidArgument, "body needs a string field \"url\"");
  }
  std::string url = it->get<std::string>();
  if (parsed) *parsed = std::move(j);
  return url;
}

}  // namespace

size_t AdminApi::budget_blocks(const Worker& w) const {
  if (!ctx_.engine) return 0;
  const RoutingOptions& o = ctx_.engine->options();
  return o.budgets ? std::min(o.budgets->get(w.id()), o.max_blocks_per_worker)
                   : o.max_blocks_per_worker;
}

nlohmann::json AdminApi::reported_load_json(const Worker& w, int64_t now) const {
  const int64_t stale = ctx_.engine ? ctx_.engine->options().load_stale_after_ms : 0;
  const auto report = w.load_report(now, stale);
  if (!report) return nullptr;
  return {{"waiting", report->waiting},
          {"running", report->running},
          {"kv_usage", report->kv_usage ? nlohmann::json(*report->kv_usage) : nullptr},
          {"age_ms", now - w.load_report_at_ms()}};
}

std::string_view AdminApi::role_of(const WorkerRegistry& pool) const {
  if (!ctx_.decode_registry) return "worker";
  return &pool == ctx_.decode_registry ? "decode" : "prefill";
}

WorkerRegistry* AdminApi::pool_of(const std::string& url) const {
  if (ctx_.registry->find(url)) return ctx_.registry;
  if (ctx_.decode_registry && ctx_.decode_registry->find(url)) return ctx_.decode_registry;
  return nullptr;
}

nlohmann::json AdminApi::worker_json(const Worker& w, const WorkerRegistry& pool,
                                     int64_t now) const {
  auto models = pool.models_of(w);
  size_t tree_blocks = 0;
  for (const auto& [name, tree] : ctx_.trees->all()) tree_blocks += tree->worker_blocks(w.id());
  return {{"url", w.url()},
          {"role", role_of(pool)},
          {"id", w.id()},
          {"healthy", w.healthy()},
          {"draining", w.draining()},
          {"routable", w.routable(now)},
          {"in_flight", w.in_flight()},
          {"breaker", breaker_name(w.breaker().state(now))},
          {"models_known", models.known},
          {"models", models.models},
          {"tree_blocks", tree_blocks},
          {"budget_blocks", budget_blocks(w)},
          {"evicting", w.evicting(now)},
          {"reported_load", reported_load_json(w, now)}};
}

AdminResponse AdminApi::list_workers() const {
  const int64_t now = now_ms();
  nlohmann::json list = nlohmann::json::array();
  for (const WorkerRegistry* pool : {ctx_.registry, ctx_.decode_registry}) {
    if (!pool) continue;
    auto snap = pool->snapshot();
    for (const auto& w : snap->all) list.push_back(worker_json(*w, *pool, now));
  }
  return json_response({{"workers", std::move(list)}});
}

AdminResponse AdminApi::add_worker(const AdminRequest& r) const {
  nlohmann::json request;
  auto url = url_from_body(r.body, &request);
  if (!url) return error_response(RouterErrc::kBadRequest, url.error().message);
  if (auto s = validate_worker_url(*url); !s) {
    return error_response(RouterErrc::kBadRequest, s.error().message, "bad_worker_url");
  }
  // PD mode: {"url", "role": "prefill"|"decode"}; one pool: no role.
  WorkerRegistry* pool = ctx_.registry;
  const auto role = request.find("role");
  if (ctx_.decode_registry) {
    if (role == request.end() || !role->is_string() || (*role != "prefill" && *role != "decode")) {
      return error_response(RouterErrc::kBadRequest,
                            "--pd-mode: the body needs \"role\": \"prefill\" or \"decode\"");
    }
    if (*role == "decode") pool = ctx_.decode_registry;
  } else if (role != request.end()) {
    return error_response(RouterErrc::kBadRequest, "\"role\" is only for --pd-mode");
  }
  WorkerRegistry* other = pool == ctx_.registry ? ctx_.decode_registry : ctx_.registry;
  if (other && other->find(*url)) {
    return error_response(RouterErrc::kBadRequest, *url + " is in the other pool already");
  }
  bool existed = pool->find(*url) != nullptr;
  auto w = pool->add(*url);
  if (!w) return error_response(w.error());
  nlohmann::json body = worker_json(**w, *pool, now_ms());
  body["added"] = !existed;
  return json_response(body, existed ? 200 : 201);
}

AdminResponse AdminApi::remove_worker(const Target& t) const {
  auto url = t.get("url");
  if (!url || url->empty()) {
    return error_response(RouterErrc::kBadRequest, "DELETE /admin/workers needs ?url=");
  }
  WorkerRegistry* pool = pool_of(*url);
  if (!pool) pool = ctx_.registry;
  auto w = pool->find(*url);
  if (auto s = pool->remove(*url); !s) {
    return error_response(RouterErrc::kNotFound, "no worker " + *url, "worker_not_found");
  }
  // The registry's removal hook already erased it from every tree; report what remains.
  return json_response({{"removed", w ? w->url() : *url}});
}

AdminResponse AdminApi::drain_worker(const AdminRequest& r) const {
  nlohmann::json body;
  auto url = url_from_body(r.body, &body);
  if (!url) return error_response(RouterErrc::kBadRequest, url.error().message);
  bool drain = true;
  if (auto it = body.find("drain"); it != body.end()) {
    if (!it->is_boolean())
      return error_response(RouterErrc::kBadRequest, "\"drain\" must be a boolean");
    drain = it->get<bool>();
  }
  WorkerRegistry* pool = pool_of(*url);
  if (!pool) pool = ctx_.registry;
  if (auto s = pool->drain(*url, drain); !s) {
    return error_response(RouterErrc::kNotFound, "no worker " + *url, "worker_not_found");
  }
  auto w = pool->find(*url);
  if (!w) return error_response(RouterErrc::kNotFound, "no worker " + *url, "worker_not_found");
  return json_response(worker_json(*w, *pool, now_ms()));
}

}  // namespace radixmesh::router
