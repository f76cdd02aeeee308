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

nlohmann::json AdminApi::worker_json(const Worker& w, int64_t now) const {
  auto models = ctx_.registry->models_of(w);
  size_t tree_blocks = 0;
  for (const auto& [name, tree] : ctx_.trees->all()) tree_blocks += tree->worker_blocks(w.id());
  return {{"url", w.url()},
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
          {"reported_load", reported_load_json(w, now)}};
}

AdminResponse AdminApi::list_workers() const {
  auto snap = ctx_.registry->snapshot();
  const int64_t now = now_ms();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& w : snap->all) list.push_back(worker_json(*w, now));
  return json_response({{"workers", std::move(list)}});
}

AdminResponse AdminApi::add_worker(const AdminRequest& r) const {
  auto url = url_from_body(r.body);
  if (!url) return error_response(RouterErrc::kBadRequest, url.error().message);
  if (auto s = validate_worker_url(*url); !s) {
    return error_response(RouterErrc::kBadRequest, s.error().message, "bad_worker_url");
  }
  bool existed = ctx_.registry->find(*url) != nullptr;
  auto w = ctx_.registry->add(*url);
  if (!w) return error_response(w.error());
  nlohmann::json body = worker_json(**w, now_ms());
  body["added"] = !existed;
  return json_response(body, existed ? 200 : 201);
}

AdminResponse AdminApi::remove_worker(const Target& t) const {
  auto url = t.get("url");
  if (!url || url->empty()) {
    return error_response(RouterErrc::kBadRequest, "DELETE /admin/workers needs ?url=");
  }
  auto w = ctx_.registry->find(*url);
  if (auto s = ctx_.registry->remove(*url); !s) {
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
  if (auto s = ctx_.registry->drain(*url, drain); !s) {
    return error_response(RouterErrc::kNotFound, "no worker " + *url, "worker_not_found");
  }
  auto w = ctx_.registry->find(*url);
  if (!w) return error_response(RouterErrc::kNotFound, "no worker " + *url, "worker_not_found");
  return json_response(worker_json(*w, now_ms()));
}

}  // namespace radixmesh::router
