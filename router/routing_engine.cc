#include "router/routing_engine.h"

#include <algorithm>

#include "policies/hashing.h"
#include "radix/block_hash.h"
#include "router/net.h"

namespace radixmesh::router {

RoutingEngine::RoutingEngine(WorkerRegistry& registry, radix::TreeCatalog& trees,
                             const policies::Policy& policy, radix::HybridClock& clock,
                             RoutingOptions options, MeshLoadFn mesh_load,
                             std::shared_ptr<LoadChangeSignal> load_signal)
    : registry_(registry),
      trees_(trees),
      policy_(policy),
      clock_(clock),
      options_(std::move(options)),
      mesh_load_(std::move(mesh_load)),
      load_signal_(std::move(load_signal)) {}

Status RoutingEngine::prepare(RoutingScratch& scratch, std::string_view body,
                              radix::Endpoint endpoint, std::string_view session_header_value,
                              PreparedRequest& out, bool body_padded) const {
  out.endpoint = endpoint;
  // The parser names the blocks as it produces the canonical bytes (same
  // names as hash_blocks over them; no copy of the prompt).
  const radix::ChainSpec chain{options_.cluster_salt, options_.default_model, options_.block_bytes};
  Status parsed =
      scratch.parser.parse_into(body, endpoint, out.parsed, body_padded, chain, out.blocks);
  if (!parsed.ok()) return parsed;
  out.model = out.parsed.model.empty() ? options_.default_model : out.parsed.model;
  out.session_key.assign(session_header_value.empty() ? std::string_view(out.parsed.user)
                                                      : session_header_value);
  return Ok{};
}

namespace {

bool same_owner(const std::weak_ptr<const RegistrySnapshot>& a,
                const std::shared_ptr<const RegistrySnapshot>& b) {
  return !a.owner_before(b) && !b.owner_before(a);
}

}  // namespace

CandidateSet& RoutingEngine::candidates(RoutingScratch& scratch,
                                        const std::shared_ptr<const RegistrySnapshot>& snapshot,
                                        const std::string& model) const {
  for (CandidateSet& set : scratch.sets) {
    if (set.model == model && same_owner(set.snapshot, snapshot)) return set;
  }
  CandidateSet& set = scratch.sets[scratch.next_set];
  scratch.next_set = (scratch.next_set + 1) % scratch.sets.size();
  ++scratch.set_builds;
  set.snapshot = snapshot;
  set.model = model;
  set.workers.clear();
  if (model.empty()) {
    for (const auto& w : snapshot->all) set.workers.push_back(w.get());
    set.served = true;
  } else {
    set.served = snapshot->candidates(model, set.workers);
  }
  set.ids.clear();
  set.views.clear();
  for (Worker* w : set.workers) {
    set.ids.push_back(w->id());
    policies::WorkerView v;
    v.id = w->id();
    v.url = w->url();
    v.url_hash = policies::hash_bytes(v.url);  // consistent_hash's, computed once
    v.budget_blocks = options_.max_blocks_per_worker;
    set.views.push_back(v);
  }
  set.mesh_load.assign(set.workers.size(), 0);
  return set;
}

std::shared_ptr<radix::PrefixTree> RoutingEngine::tree_for(const std::string& model) const {
  if (!options_.tree_suffix.empty()) return tree_named(model + options_.tree_suffix);
  return tree_named(model);
}

std::shared_ptr<radix::PrefixTree> RoutingEngine::tree_named(const std::string& name) const {
  std::shared_ptr<radix::PrefixTree> tree = trees_.find(name);
  if (!tree) {
    auto created = trees_.get_or_create(name);
    if (created.ok()) tree = std::move(created).value();  // else: route without a tree
  }
  return tree;
}

size_t RoutingEngine::refresh(CandidateSet& set, const radix::PrefixTree* tree,
                              std::span<const radix::WorkerId> exclude, int64_t now) const {
  // The caller holds the snapshot the raw pointers come from.
  if (mesh_load_) mesh_load_(set.ids, set.mesh_load);
  size_t routable = 0;
  for (size_t i = 0; i < set.workers.size(); ++i) {
    const Worker* w = set.workers[i];
    policies::WorkerView& v = set.views[i];
    v.healthy =
        w->routable(now) && std::find(exclude.begin(), exclude.end(), v.id) == exclude.end();
    if (!v.healthy) continue;  // policies ignore every other field then
    ++routable;
    v.local_in_flight = w->in_flight();
    v.mesh_in_flight = set.mesh_load[i];
    if (const auto report = w->load_report(now, options_.load_stale_after_ms)) {
      v.queue_depth = report->waiting;
      v.running = report->running;
      v.kv_usage = report->kv_usage;
    } else {
      v.queue_depth.reset();
      v.running.reset();
      v.kv_usage.reset();
    }
    v.evicting = w->evicting(now);
    v.tree_blocks = tree ? tree->worker_blocks(v.id) : 0;
    if (options_.budgets) {
      v.budget_blocks = std::min(options_.budgets->get(v.id), options_.max_blocks_per_worker);
    }
  }
  return routable;
}

Result<RouteChoice> RoutingEngine::choose(RoutingScratch& scratch, const PreparedRequest& request,
                                          std::span<const radix::WorkerId> exclude) const {
  const auto started = Clock::now();
  // Held until return: the raw Worker pointers below come from it.
  const auto snapshot = registry_.snapshot();
  CandidateSet& set = candidates(scratch, snapshot, request.model);
  if (!set.served) {
    return make_error(ErrorCode::kNotFound,
                      "model '" + request.model + "' is not served by any worker");
  }
  if (set.workers.empty()) {
    return make_error(ErrorCode::kUnavailable, "no worker is registered");
  }
  const int64_t now = to_ms(started);  // one clock read for both
  const std::shared_ptr<radix::PrefixTree> tree = tree_for(request.model);
  size_t routable = refresh(set, tree.get(), exclude, now);
  const uint32_t cap = options_.max_in_flight_per_worker;
  scratch.at_cap.clear();
  auto saturated = [&](size_t i) {
    set.views[i].healthy = false;
    --routable;
    scratch.at_cap.push_back(set.views[i].id);
  };
  if (cap > 0) {
    for (size_t i = 0; i < set.workers.size(); ++i) {
      if (set.views[i].healthy && set.workers[i]->in_flight() >= cap) saturated(i);
    }
  }

  // Matching is the expensive part; a policy that ignores it skips it.
  radix::MatchResult match;
  const bool use_match = policy_.needs_match() && tree && !request.blocks.empty();
  if (use_match) match = tree->match(request.blocks);

  const policies::RequestView view{request.model, request.blocks, request.parsed.prompt_chars,
                                   request.session_key};
  // A half-open breaker admits one probe: if another thread took it between
  // the filter and here, drop that worker and decide again (bounded by the
  // number of candidates).
  while (routable > 0) {
    policies::Decision d =
        policy_.choose(view, set.views, use_match ? &match : nullptr, scratch.rng);
    if (!d.index || *d.index >= set.workers.size() || !set.views[*d.index].healthy) break;
    Worker* chosen = set.workers[*d.index];
    // With a cap, the slot first (another thread may have taken the last one
    // since the filter above), then the breaker's admission. Without one the
    // count is taken only once the worker is chosen (below), so a breaker
    // that refuses leaves it, and the mesh's load signal, untouched.
    InFlightGuard guard;
    if (cap > 0) {
      guard = InFlightGuard::try_acquire(chosen->shared_from_this(), cap, load_signal_,
                                         options_.slot_listener);
      if (!guard) {
        saturated(*d.index);
        continue;
      }
    }
    bool probe = false;
    if (!chosen->breaker().try_acquire(now, &probe)) {
      set.views[*d.index].healthy = false;
      --routable;
      continue;
    }
    const radix::Hlc ts = clock_.now();
    if (tree && !request.blocks.empty()) tree->insert(request.blocks, chosen->id(), ts);
    RouteChoice choice;
    choice.decision_ts = ts;
    choice.guard =
        cap > 0 ? std::move(guard) : InFlightGuard(chosen->shared_from_this(), load_signal_);
    choice.probe = probe;
    choice.decision = d;
    choice.candidates = routable;
    choice.decision_time = Clock::now() - started;
    return choice;
  }
  if (!scratch.at_cap.empty()) {
    return make_error(ErrorCode::kUnavailable,
                      "every healthy worker serving model '" + request.model + "' has " +
                          std::to_string(cap) + " requests in flight (--max-in-flight-per-worker)");
  }
  return make_error(ErrorCode::kUnavailable,
                    exclude.empty()
                        ? "no healthy worker serves model '" + request.model + "'"
                        : "no other healthy worker serves model '" + request.model + "'");
}

Result<Explanation> RoutingEngine::explain(RoutingScratch& scratch,
                                           const PreparedRequest& request) const {
  const auto snapshot = registry_.snapshot();
  CandidateSet& set = candidates(scratch, snapshot, request.model);
  if (!set.served) {
    return make_error(ErrorCode::kNotFound,
                      "model '" + request.model + "' is not served by any worker");
  }
  const int64_t now = now_ms();
  const std::shared_ptr<radix::PrefixTree> tree = tree_for(request.model);
  refresh(set, tree.get(), {}, now);
  radix::MatchResult match;
  if (tree && !request.blocks.empty()) match = tree->match(request.blocks);

  Explanation out;
  out.model = request.model;
  out.total_blocks = request.blocks.size();
  out.branches = match.branches;
  const policies::RequestView view{request.model, request.blocks, request.parsed.prompt_chars,
                                   request.session_key};
  out.decision =
      policy_.choose(view, set.views, policy_.needs_match() ? &match : nullptr, scratch.rng);
  if (out.decision.index && *out.decision.index < set.workers.size()) {
    out.chosen_url = set.workers[*out.decision.index]->url();
  }
  for (size_t i = 0; i < set.workers.size(); ++i) {
    const Worker* w = set.workers[i];
    ExplainEntry e;
    e.url = w->url();
    e.id = w->id();
    e.routable = set.views[i].healthy;
    e.in_flight = w->in_flight();
    e.mesh_in_flight = set.mesh_load[i];
    e.reported = w->load_report(now, options_.load_stale_after_ms);
    if (e.reported) e.reported_age_ms = now - w->load_report_at_ms();
    for (const auto& t : match.tenants) {
      if (t.worker == w->id()) e.matched_blocks = t.blocks;
    }
    out.workers.push_back(std::move(e));
  }
  return out;
}

}  // namespace radixmesh::router
