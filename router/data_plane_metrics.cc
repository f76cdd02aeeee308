#include "router/data_plane_metrics.h"

#include "router/worker.h"

namespace radixmesh::router {

std::string_view to_label(RouteKind kind) {
  switch (kind) {
    case RouteKind::kChat:
      return "chat";
    case RouteKind::kCompletions:
      return "completions";
    case RouteKind::kGenerate:
      return "generate";
    case RouteKind::kEmbeddings:
      return "embeddings";
    case RouteKind::kResponses:
      return "responses";
    case RouteKind::kModels:
      return "models";
    case RouteKind::kHealth:
      return "health";
    case RouteKind::kReadiness:
      return "readiness";
    case RouteKind::kOther:
    case RouteKind::kCount:
      break;
  }
  return "other";
}

std::string_view to_label(Incomplete reason) {
  switch (reason) {
    case Incomplete::kUpstreamReset:
      return "upstream_reset";
    case Incomplete::kUpstreamTimeout:
      return "upstream_timeout";
    case Incomplete::kClientGone:
      return "client_gone";
    case Incomplete::kCutByRouter:
      return "router_limit";
    case Incomplete::kNone:
    case Incomplete::kCount:
      break;
  }
  return "none";
}

DataPlaneMetrics::DataPlaneMetrics(MetricsRegistry& registry, RouterMetrics& families,
                                   std::string policy_name)
    : families_(families), policy_(std::move(policy_name)) {
  for (size_t k = 0; k < kKinds; ++k) {
    const std::string label(to_label(static_cast<RouteKind>(k)));
    for (size_t s = 0; s < kNumStatuses; ++s) {
      requests_[k][s] = families_.requests.with({label, std::to_string(kStatuses[s])});
    }
    latency_[k] = families_.latency.with({label});
    ttft_[k] = families_.ttft.with({label});
    retries_[k] = families_.retries.with({label});
    requests_incomplete_status_[k] = families_.requests.with({label, "incomplete"});
    for (size_t r = 1; r < kIncompleteReasons; ++r) {
      incomplete_[k][r] =
          families_.incomplete.with({label, std::string(to_label(static_cast<Incomplete>(r)))});
    }
  }
  for (size_t r = 0; r < kReasons; ++r) {
    decisions_[r] = families_.decisions.with(
        {policy_, std::string(policies::to_string(static_cast<policies::Reason>(r)))});
  }
  decision_seconds_ =
      registry
          .histogram("radixmesh_routing_decision_seconds",
                     "Routing decision time: tree match, policy and insert.", {},
                     {1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 1e-2, 1e-1})
          .with({});
  client_limited_ = families_.client_limited.with({});
  stream_usage_ = {families_.stream_usage.with({"dropped"}),
                   families_.stream_usage.with({"not_reported"}),
                   families_.stream_usage.with({"worker_off"})};
  const char* roles[] = {"prefill", "decode"};
  const char* outcomes[] = {"ok", "failed", "refused", "cancelled", "bypassed"};
  for (size_t r = 0; r < std::size(roles); ++r) {
    for (size_t o = 0; o < std::size(outcomes); ++o) {
      pd_legs_[r][o] = families_.pd_legs.with({roles[r], outcomes[o]});
    }
  }
}

void DataPlaneMetrics::stream_aborted(std::string_view reason) {
  families_.stream_aborts.with({std::string(reason)})->inc();
}

void DataPlaneMetrics::request_done(RouteKind kind, unsigned status, double seconds,
                                    Incomplete incomplete) {
  const size_t k = static_cast<size_t>(kind);
  if (incomplete != Incomplete::kNone && incomplete != Incomplete::kCount) {
    incomplete_[k][static_cast<size_t>(incomplete)]->inc();
    if (incomplete != Incomplete::kClientGone) {
      requests_incomplete_status_[k]->inc();
      latency_[k]->observe(seconds);
      return;
    }
  }
  bool counted = false;
  for (size_t s = 0; s < kNumStatuses; ++s) {
    if (kStatuses[s] == status) {
      requests_[k][s]->inc();
      counted = true;
      break;
    }
  }
  if (!counted)
    families_.requests.with({std::string(to_label(kind)), std::to_string(status)})->inc();
  latency_[k]->observe(seconds);
}

void DataPlaneMetrics::first_byte(RouteKind kind, double seconds) {
  ttft_[static_cast<size_t>(kind)]->observe(seconds);
}

void DataPlaneMetrics::retry(RouteKind kind) {
  retries_[static_cast<size_t>(kind)]->inc();
}

void DataPlaneMetrics::upstream_error(const Worker& worker, std::string_view kind) {
  families_.upstream_errors.with({worker.url(), std::string(kind)})->inc();
}

void DataPlaneMetrics::decision(policies::Reason reason, double seconds) {
  const size_t r = static_cast<size_t>(reason);
  if (r < kReasons) decisions_[r]->inc();
  decision_seconds_->observe(seconds);
}

void DataPlaneMetrics::refresh_worker(const Worker& worker, int64_t now_ms) {
  const LabelValues labels{worker.url()};
  families_.in_flight.with(labels)->set(worker.in_flight());
  families_.worker_healthy.with(labels)->set(worker.routable(now_ms) ? 1.0 : 0.0);
  families_.breaker_state.with(labels)->set(
      static_cast<double>(static_cast<int>(worker.breaker().state(now_ms))));
  families_.pool_in_use.with(labels)->set(worker.pool_leased());
  families_.pool_limit.with(labels)->set(static_cast<double>(pool_limit_));
}

void DataPlaneMetrics::forget_worker(const Worker& worker) {
  const LabelValues labels{worker.url()};
  families_.in_flight.remove(labels);
  families_.worker_healthy.remove(labels);
  families_.breaker_state.remove(labels);
  families_.pool_in_use.remove(labels);
  families_.pool_limit.remove(labels);
  worker_load(worker, nullptr);
}

void DataPlaneMetrics::worker_load(const Worker& worker, const WorkerLoad* load) {
  const LabelValues labels{worker.url()};
  if (!load) {
    families_.reported_waiting.remove(labels);
    families_.reported_running.remove(labels);
    families_.reported_kv_usage.remove(labels);
    return;
  }
  families_.reported_waiting.with(labels)->set(load->waiting);
  families_.reported_running.with(labels)->set(load->running);
  if (load->kv_usage) {
    families_.reported_kv_usage.with(labels)->set(*load->kv_usage);
  } else {
    families_.reported_kv_usage.remove(labels);
  }
}

void DataPlaneMetrics::load_scrape(const Worker& worker, std::string_view result) {
  families_.load_scrapes.with({worker.url(), std::string(result)})->inc();
}

void DataPlaneMetrics::load_scrape_malformed(const Worker& worker, size_t lines) {
  families_.load_scrape_malformed_lines.with({worker.url()})->inc(lines);
}

}  // namespace radixmesh::router
