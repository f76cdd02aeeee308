// Admin API dispatch, authentication and the read-only endpoints (see
// admin_api.h). Worker and tree handlers live in admin_workers.cc and
// admin_tree_handlers.cc.
#include "router/admin_api.h"

#include <openssl/crypto.h>

#include "radix/hlc.h"
#include "radix/snapshot_codec.h"
#include "router/net.h"
#include "router/pd_routing.h"

namespace radixmesh::router {
namespace {

struct Route {
  std::string_view path;
  std::string_view allow;  // methods, for 405
};

constexpr Route kRoutes[] = {
    {"/metrics", "GET"},
    {"/admin/status", "GET"},
    {"/admin/workers", "GET, POST, DELETE"},
    {"/admin/workers/drain", "POST"},
    {"/admin/peers", "GET"},
    {"/admin/trees", "GET"},
    {"/admin/trees/top", "GET"},
    {"/admin/trees/dump", "GET"},
    {"/admin/route/explain", "POST"},
    {"/admin/snapshot", "GET"},
    {"/admin/memory", "GET"},
};

std::optional<radix::Endpoint> explain_endpoint(const std::string& name) {
  if (name == "chat" || name == "chat/completions") return radix::Endpoint::kChatCompletions;
  if (name == "completions") return radix::Endpoint::kCompletions;
  if (name == "generate") return radix::Endpoint::kGenerate;
  if (name == "responses") return radix::Endpoint::kResponses;
  return std::nullopt;
}

}  // namespace

AdminApi::AdminApi(AdminContext context, std::string token)
    : ctx_(std::move(context)), token_(std::move(token)) {
  if (ctx_.engine != nullptr) {
    scratch_ = std::make_unique<RoutingScratch>(ctx_.engine->options().parse_limits,
                                                /*seed=*/0x61646d696eULL);
  }
}

AdminApi::~AdminApi() = default;

bool AdminApi::authorized(const AdminRequest& request) const {
  if (token_.empty()) return true;
  // RFC 9110 §11.1: the scheme is case-insensitive ("bearer", "BEARER"),
  // followed by one or more spaces and the token.
  constexpr std::string_view kBearer = "bearer";
  std::string_view h = request.authorization;
  if (h.size() <= kBearer.size() || !beast::iequals(h.substr(0, kBearer.size()), kBearer) ||
      h[kBearer.size()] != ' ') {
    return false;
  }
  std::string_view given = h.substr(kBearer.size());
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  // Constant time over the token's length; the length itself is not secret.
  if (given.size() != token_.size()) return false;
  return CRYPTO_memcmp(given.data(), token_.data(), token_.size()) == 0;
}

AdminResponse AdminApi::handle(const AdminRequest& request) const {
  if (!authorized(request)) {
    AdminResponse r = error_response(
        RouterErrc::kUnauthorized,
        request.authorization.empty() ? "missing bearer token" : "invalid bearer token",
        "unauthorized");
    r.www_authenticate = true;
    return r;
  }
  if (auto refused = refuse_cross_site(request)) return std::move(*refused);
  auto target = parse_target(request.target);
  if (!target) return error_response(RouterErrc::kBadRequest, target.error().message, "bad_target");
  try {
    return dispatch(request, *target);
  } catch (const std::exception& e) {
    // A bug or an allocation failure in one handler must not take the process down.
    return error_response(RouterErrc::kInternal, e.what());
  }
}

std::optional<AdminResponse> AdminApi::refuse_cross_site(const AdminRequest& r) const {
  if (token_.empty()) {
    // Without a token, anything that can reach the port may call the API,
    // and a browser on this host can reach it: refuse what only a browser
    // sends. A page's own requests carry Origin; a DNS-rebinding page's
    // requests carry its own name as Host.
    if (!r.origin.empty()) {
      return error_response(RouterErrc::kForbidden,
                            "requests with an Origin header are refused when the admin API has "
                            "no token (--admin-token-file)",
                            "cross_origin");
    }
    if (!r.host.empty() && !is_loopback_host_header(r.host)) {
      return error_response(RouterErrc::kMisdirected,
                            "Host '" + r.host +
                                "' is not a loopback name or address; without an admin token "
                                "only localhost, 127.0.0.0/8 and [::1] are answered",
                            "host_not_allowed");
    }
  }
  return std::nullopt;
}

std::optional<AdminResponse> AdminApi::refuse_media_type(const AdminRequest& r) {
  // A cross-site form or a no-cors fetch can POST text/plain, form data or
  // multipart without a preflight, never application/json: every call that
  // changes state (or carries a body) must say application/json. A DELETE
  // without a body (ctl's worker removal) needs no type.
  if (r.method == "DELETE" && r.body.empty()) return std::nullopt;
  if (is_json_media_type(r.content_type)) return std::nullopt;
  return error_response(RouterErrc::kUnsupportedMediaType,
                        r.method + " needs Content-Type: application/json" +
                            (r.content_type.empty() ? std::string(" (none given)")
                                                    : " (got '" + r.content_type + "')"));
}

AdminResponse AdminApi::dispatch(const AdminRequest& r, const Target& t) const {
  const std::string& p = t.path;
  const std::string& m = r.method;
  if (m == "GET") {
    if (p == "/metrics") return metrics();
    if (p == "/admin/status") return status();
    if (p == "/admin/workers") return list_workers();
    if (p == "/admin/peers") return peers();
    if (p == "/admin/trees") return trees(t);
    if (p == "/admin/trees/top") return trees_top(t);
    if (p == "/admin/trees/dump") return trees_dump(t);
    if (p == "/admin/snapshot") return snapshot(t);
    if (p == "/admin/memory") return memory();
  } else if (m == "POST") {
    const bool known =
        p == "/admin/workers" || p == "/admin/workers/drain" || p == "/admin/route/explain";
    if (known) {
      if (auto refused = refuse_media_type(r)) return std::move(*refused);
    }
    if (p == "/admin/workers") return add_worker(r);
    if (p == "/admin/workers/drain") return drain_worker(r);
    if (p == "/admin/route/explain") return explain(r, t);
  } else if (m == "DELETE") {
    if (p == "/admin/workers") {
      if (auto refused = refuse_media_type(r)) return std::move(*refused);
      return remove_worker(t);
    }
  }
  for (const auto& route : kRoutes) {
    if (route.path == p) {
      AdminResponse resp =
          error_response(RouterErrc::kMethodNotAllowed, m + " is not allowed on " + p);
      resp.allow = std::string(route.allow);
      return resp;
    }
  }
  return error_response(RouterErrc::kNotFound, "no admin endpoint " + p);
}

AdminResponse AdminApi::metrics() const {
  if (ctx_.metrics == nullptr)
    return error_response(RouterErrc::kUnavailable, "no metrics registry");
  AdminResponse r;
  r.content_type = MetricsRegistry::kContentType;
  if (ctx_.before_scrape) ctx_.before_scrape();
  r.body = ctx_.metrics->render();
  return r;
}

AdminResponse AdminApi::status() const {
  auto snap = ctx_.registry->snapshot();
  const int64_t now = now_ms();
  size_t total = 0, healthy = 0, routable = 0, draining = 0;
  for (const WorkerRegistry* pool : {ctx_.registry, ctx_.decode_registry}) {
    if (!pool) continue;
    for (const auto& w : pool->snapshot()->all) {  // PD mode: both pools
      ++total;
      healthy += w->healthy() ? 1 : 0;
      routable += w->routable(now) ? 1 : 0;
      draining += w->draining() ? 1 : 0;
    }
  }
  // Models: those the workers announce, plus any the trees learned (e.g.
  // from peers); not the decode pool's trees, which are named after theirs.
  std::vector<std::string> models = snap->models();
  for (const auto& [name, tree] : ctx_.trees->all()) {
    if (name.ends_with(kDecodeTreeSuffix)) continue;
    if (std::find(models.begin(), models.end(), name) == models.end()) models.push_back(name);
  }
  std::sort(models.begin(), models.end());
  nlohmann::json peer_list = ctx_.peers ? ctx_.peers() : nlohmann::json::array();
  const RouterConfig& c = *ctx_.config;
  auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx_.started);
  return json_response(
      {{"node_id", c.node_id},
       {"version", ctx_.version},
       {"uptime_seconds", uptime.count()},
       {"policy", ctx_.decode_registry ? c.prefill_policy : c.policy},
       {"pd_mode", c.pd_mode},
       {"models", models},
       {"workers",
        {{"total", total}, {"healthy", healthy}, {"routable", routable}, {"draining", draining}}},
       {"peers", peer_list.is_array() ? peer_list.size() : 0},
       {"mesh", c.mesh_port != 0},
       {"port", c.port},
       {"admin_port", c.admin_port}});
}

AdminResponse AdminApi::peers() const {
  nlohmann::json list = ctx_.peers ? ctx_.peers() : nlohmann::json::array();
  return json_response({{"mesh", ctx_.config->mesh_port != 0}, {"peers", std::move(list)}});
}

AdminResponse AdminApi::memory() const {
  if (ctx_.broker == nullptr) return error_response(RouterErrc::kUnavailable, "no memory broker");
  radix::BrokerStats s = ctx_.broker->stats();
  nlohmann::json pools = nlohmann::json::array();
  for (const auto& [name, bytes] : s.pools) {
    pools.push_back({{"name", name},
                     {"bytes", bytes},
                     {"share", s.budget_bytes ? double(bytes) / double(s.budget_bytes) : 0.0}});
  }
  nlohmann::json entries = nlohmann::json::object();
  for (int t = 0; t < 4; ++t) {
    entries[radix::to_string(static_cast<radix::PressureTier>(t))] = s.tier_entries[t];
  }
  return json_response({{"budget_bytes", s.budget_bytes},
                        {"used_bytes", s.used_bytes},
                        {"pressure", s.pressure},
                        {"tier", radix::to_string(s.tier)},
                        {"ticks", s.ticks},
                        {"tier_entries", std::move(entries)},
                        {"relieve_calls", s.relieve_calls},
                        {"bytes_relieved", s.bytes_relieved},
                        {"pools", std::move(pools)}});
}

AdminResponse AdminApi::snapshot(const Target& t) const {
  auto tree = tree_for(t, /*required=*/true);
  if (!tree) {
    return tree_error(tree.error());
  }
  auto blob = radix::encode_snapshot(**tree, *ctx_.directory);
  if (!blob) return error_response(blob.error());
  AdminResponse r;
  r.content_type = "application/octet-stream";
  r.body = std::move(*blob);
  return r;
}

AdminResponse AdminApi::explain(const AdminRequest& r, const Target& t) const {
  if (ctx_.engine == nullptr) {
    return error_response(RouterErrc::kUnavailable, "no routing engine in this process");
  }
  std::string name = t.get("endpoint").value_or("chat");
  auto endpoint = explain_endpoint(name);
  if (!endpoint) {
    return error_response(RouterErrc::kBadRequest,
                          "endpoint must be chat, completions, generate or responses",
                          "bad_endpoint");
  }
  std::lock_guard lock(explain_mu_);
  PreparedRequest prepared;
  prepared.endpoint = *endpoint;
  if (auto s = ctx_.engine->prepare(*scratch_, r.body, *endpoint, r.session, prepared); !s) {
    return error_response(s.error());
  }
  auto ex = ctx_.engine->explain(*scratch_, prepared);
  if (!ex) return error_response(ex.error());
  nlohmann::json body = explanation_json(*ctx_.engine, *ex);
  body["dry_run"] = true;
  body["endpoint"] = name;
  if (ctx_.decode_engine) {  // PD mode: the prefill choice above, the decode one here
    auto decode = ctx_.decode_engine->explain(*scratch_, prepared);
    if (!decode) return error_response(decode.error());
    body["role"] = "prefill";
    body["decode"] = explanation_json(*ctx_.decode_engine, *decode);
    body["decode"]["role"] = "decode";
  }
  return json_response(body);
}

nlohmann::json AdminApi::explanation_json(const RoutingEngine& engine, const Explanation& ex) {
  nlohmann::json workers = nlohmann::json::array();
  for (const auto& w : ex.workers) {
    workers.push_back(
        {{"url", w.url},
         {"id", w.id},
         {"routable", w.routable},
         {"in_flight", w.in_flight},
         {"mesh_in_flight", w.mesh_in_flight},
         {"reported_load",
          w.reported ? nlohmann::json{{"waiting", w.reported->waiting},
                                      {"running", w.reported->running},
                                      {"kv_usage", w.reported->kv_usage
                                                       ? nlohmann::json(*w.reported->kv_usage)
                                                       : nullptr},
                                      {"age_ms", w.reported_age_ms}}
                     : nlohmann::json(nullptr)},
         {"matched_blocks", w.matched_blocks},
         {"match_fraction",
          ex.total_blocks ? double(w.matched_blocks) / double(ex.total_blocks) : 0.0}});
  }
  const auto& d = ex.decision;
  return {
      {"model", ex.model},
      {"policy", std::string(engine.policy().name())},
      {"total_blocks", ex.total_blocks},
      {"branches", ex.branches},
      {"chosen", ex.chosen_url.empty() ? nlohmann::json(nullptr) : nlohmann::json(ex.chosen_url)},
      {"reason", std::string(policies::to_string(d.reason))},
      {"matched_blocks", d.matched_blocks},
      {"score", d.score},
      {"load", d.load},
      {"workers", std::move(workers)}};
}

}  // namespace radixmesh::router
