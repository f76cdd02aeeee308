#include "router/routing_engine.h"

#include <algorithm>

#include "radix/block_hash.h"
#include "router/net.h"

namespace radixmesh::router {

RoutingEngine::RoutingEngine(WorkerRegistry& registry, radix::TreeCatalog& trees,
                             const policies::Policy& policy, radix::HybridClock& clock,
                             RoutingOptions options, MeshLoadFn mesh_load)
    : registry_(registry),
      trees_(trees),
      policy_(policy),
      clock_(clock),
      options_(std::move(options)),
      mesh_load_(std::move(mesh_load)) {}

Status RoutingEngine::prepare(RoutingScratch& scratch, std::string_view body,
                              radix::Endpoint endpoint, std::string_view session_header_value,
                              PreparedRequest& out) const {
  out.endpoint = endpoint;
  Status parsed = scratch.parser.parse_into(body, endpoint, out.parsed);
  if (!parsed.ok()) return parsed;
  out.model = out.parsed.model.empty() ? options_.default_model : out.parsed.model;
  out.blocks.clear();
  const uint64_t seed = radix::chain_seed(options_.cluster_salt, out.model, out.parsed.ns);
  radix::hash_blocks(out.parsed.canonical, seed, options_.block_bytes, out.blocks);
  out.session_key.assign(session_header_value.empty() ? std::string_view(out.parsed.user)
                                                      : session_header_value);
  return Ok{};
}

Result<std::shared_ptr<radix::PrefixTree>> RoutingEngine::gather(
    RoutingScratch& scratch, const PreparedRequest& request,
    std::span<const radix::WorkerId> exclude, int64_t now) const {
  // The caller holds the snapshot the raw pointers come from.
  scratch.routable.clear();
  scratch.views.clear();
  for (Worker* w : scratch.candidates) {
    if (!w->routable(now)) continue;
    if (std::find(exclude.begin(), exclude.end(), w->id()) != exclude.end()) continue;
    scratch.routable.push_back(w);
  }
  std::shared_ptr<radix::PrefixTree> tree = trees_.find(request.model);
  if (!tree) {
    auto created = trees_.get_or_create(request.model);
    if (created.ok()) tree = std::move(created).value();  // else: route without a tree
  }
  scratch.views.reserve(scratch.routable.size());
  for (Worker* w : scratch.routable) {
    policies::WorkerView v;
    v.id = w->id();
    v.url = w->url();
    v.healthy = true;
    v.local_in_flight = w->in_flight();
    v.mesh_in_flight = mesh_load_ ? mesh_load_(w->id()) : 0;
    if (const int64_t q = w->queue_depth(); q >= 0) v.queue_depth = static_cast<uint32_t>(q);
    v.budget_blocks = options_.max_blocks_per_worker;
    v.tree_blocks = tree ? tree->worker_blocks(w->id()) : 0;
    scratch.views.push_back(v);
  }
  return tree;
}

Result<RouteChoice> RoutingEngine::choose(RoutingScratch& scratch, const PreparedRequest& request,
                                          std::span<const radix::WorkerId> exclude) const {
  const auto started = Clock::now();
  // Held until return: the raw Worker pointers below come from it.
  const auto snapshot = registry_.snapshot();
  scratch.candidates.clear();
  if (request.model.empty()) {
    for (const auto& w : snapshot->all) scratch.candidates.push_back(w.get());
  } else if (!snapshot->candidates(request.model, scratch.candidates)) {
    return make_error(ErrorCode::kNotFound,
                      "model '" + request.model + "' is not served by any worker");
  }
  if (scratch.candidates.empty()) {
    return make_error(ErrorCode::kUnavailable, "no worker is registered");
  }
  const int64_t now = now_ms();
  auto tree = gather(scratch, request, exclude, now);
  if (!tree.ok()) return tree.error();

  // Matching is the expensive part; a policy that ignores it skips it.
  radix::MatchResult match;
  const bool use_match = policy_.needs_match() && *tree && !request.blocks.empty();
  if (use_match) match = (*tree)->match(request.blocks);

  const policies::RequestView view{request.model, request.blocks, request.parsed.prompt_chars,
                                   request.session_key};
  // A half-open breaker admits one probe: if another thread took it between
  // the filter and here, drop that worker and decide again (bounded by the
  // number of candidates).
  while (!scratch.views.empty()) {
    policies::Decision d =
        policy_.choose(view, scratch.views, use_match ? &match : nullptr, scratch.rng);
    if (!d.index || *d.index >= scratch.routable.size()) break;
    Worker* chosen = scratch.routable[*d.index];
    bool probe = false;
    if (!chosen->breaker().try_acquire(now, &probe)) {
      scratch.views.erase(scratch.views.begin() + static_cast<ptrdiff_t>(*d.index));
      scratch.routable.erase(scratch.routable.begin() + static_cast<ptrdiff_t>(*d.index));
      continue;
    }
    if (*tree && !request.blocks.empty()) {
      (*tree)->insert(request.blocks, chosen->id(), clock_.now());
    }
    RouteChoice choice;
    choice.guard = InFlightGuard(chosen->shared_from_this());
    choice.probe = probe;
    choice.decision = d;
    choice.candidates = scratch.routable.size();
    choice.decision_time = Clock::now() - started;
    return choice;
  }
  return make_error(ErrorCode::kUnavailable,
                    exclude.empty()
                        ? "no healthy worker serves model '" + request.model + "'"
                        : "no other healthy worker serves model '" + request.model + "'");
}

Result<Explanation> RoutingEngine::explain(RoutingScratch& scratch,
                                           const PreparedRequest& request) const {
  const auto snapshot = registry_.snapshot();
  scratch.candidates.clear();
  if (request.model.empty()) {
    for (const auto& w : snapshot->all) scratch.candidates.push_back(w.get());
  } else if (!snapshot->candidates(request.model, scratch.candidates)) {
    return make_error(ErrorCode::kNotFound,
                      "model '" + request.model + "' is not served by any worker");
  }
  const int64_t now = now_ms();
  auto tree = gather(scratch, request, {}, now);
  if (!tree.ok()) return tree.error();
  radix::MatchResult match;
  if (*tree && !request.blocks.empty()) match = (*tree)->match(request.blocks);

  Explanation out;
  out.model = request.model;
  out.total_blocks = request.blocks.size();
  const policies::RequestView view{request.model, request.blocks, request.parsed.prompt_chars,
                                   request.session_key};
  out.decision =
      policy_.choose(view, scratch.views, policy_.needs_match() ? &match : nullptr, scratch.rng);
  if (out.decision.index && *out.decision.index < scratch.routable.size()) {
    out.chosen_url = scratch.routable[*out.decision.index]->url();
  }
  for (Worker* w : scratch.candidates) {
    ExplainEntry e;
    e.url = w->url();
    e.id = w->id();
    e.routable = w->routable(now);
    e.in_flight = w->in_flight();
    for (const auto& t : match.tenants) {
      if (t.worker == w->id()) e.matched_blocks = t.blocks;
    }
    out.workers.push_back(std::move(e));
  }
  return out;
}

}  // namespace radixmesh::router
