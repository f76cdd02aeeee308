#include "tools/sim_worker/sim_state.h"

#include <algorithm>
#include <cstdio>

namespace radixmesh::tools::sim {

void SimCounters::count_status(unsigned status) {
  auto r = std::memory_order_relaxed;
  switch (status) {
    case 200:
      status_200.fetch_add(1, r);
      break;
    case 400:
      status_400.fetch_add(1, r);
      break;
    case 404:
      status_404.fetch_add(1, r);
      break;
    case 413:
      status_413.fetch_add(1, r);
      break;
    case 429:
      status_429.fetch_add(1, r);
      break;
    case 500:
      status_500.fetch_add(1, r);
      break;
    case 502:
      status_502.fetch_add(1, r);
      break;
    case 504:
      status_504.fetch_add(1, r);
      break;
    default:
      break;
  }
}

bool SimState::serves(const std::string& model) const {
  return std::find(opts.models.begin(), opts.models.end(), model) != opts.models.end();
}

namespace {

void metric(std::string& out, const char* name, const char* type, const char* help,
            const std::string& samples) {
  out += "# HELP ";
  out += name;
  out += " ";
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += " ";
  out += type;
  out += "\n";
  out += samples;
}

std::string sample(const char* name, const std::string& labels, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return std::string(name) + (labels.empty() ? "" : "{" + labels + "}") + " " + buf + "\n";
}

}  // namespace

std::string render_metrics(SimState& s) {
  auto ld = [](const std::atomic<uint64_t>& a) {
    return static_cast<double>(a.load(std::memory_order_relaxed));
  };
  const SimCounters& c = s.counters;
  std::string out;
  out.reserve(4096);
  std::string req;
  for (int e = 0; e < kEndpointCount; ++e)
    req += sample("sim_requests_total",
                  std::string("endpoint=\"") + endpoint_name(static_cast<Endpoint>(e)) + "\"",
                  ld(c.requests[e]));
  metric(out, "sim_requests_total", "counter", "inference requests received", req);
  std::string st;
  for (auto [code, a] : {std::pair{200, &c.status_200},
                         {400, &c.status_400},
                         {404, &c.status_404},
                         {413, &c.status_413},
                         {429, &c.status_429},
                         {500, &c.status_500},
                         {502, &c.status_502},
                         {504, &c.status_504}})
    st += sample("sim_responses_total", "code=\"" + std::to_string(code) + "\"", ld(*a));
  metric(out, "sim_responses_total", "counter", "responses by HTTP status", st);
  const double prompt = ld(c.prompt_tokens), cached = ld(c.cached_tokens);
  metric(out, "sim_prompt_tokens_total", "counter", "prompt tokens of admitted requests",
         sample("sim_prompt_tokens_total", "", prompt));
  metric(out, "sim_cached_tokens_total", "counter", "prompt tokens served from the KV cache",
         sample("sim_cached_tokens_total", "", cached));
  metric(out, "sim_completion_tokens_total", "counter", "output tokens produced",
         sample("sim_completion_tokens_total", "", ld(c.completion_tokens)));
  metric(out, "sim_cache_hit_ratio", "gauge", "cached_tokens_total / prompt_tokens_total",
         sample("sim_cache_hit_ratio", "", prompt > 0 ? cached / prompt : 0.0));
  metric(out, "sim_streams_total", "counter", "streaming responses started",
         sample("sim_streams_total", "", ld(c.streams)));
  metric(out, "sim_cancelled_total", "counter",
         "requests whose client disconnected before the response ended",
         sample("sim_cancelled_total", "", ld(c.cancelled)));
  metric(out, "sim_connections_total", "counter", "accepted connections",
         sample("sim_connections_total", "", ld(c.connections)));
  metric(out, "sim_open_connections", "gauge", "open connections",
         sample("sim_open_connections", "",
                static_cast<double>(c.open_connections.load(std::memory_order_relaxed))));
  metric(out, "sim_active_requests", "gauge",
         "inference requests being served (queued, generating or answering)",
         sample("sim_active_requests", "", static_cast<double>(c.active.active())));
  metric(out, "sim_active_requests_peak", "gauge",
         "the most inference requests served at once since start",
         sample("sim_active_requests_peak", "", static_cast<double>(c.active.peak())));
  const double running = s.admission.in_flight(), waiting = s.admission.queued();
  metric(out, "sim_in_flight", "gauge", "requests holding a batch slot",
         sample("sim_in_flight", "", running));
  metric(out, "sim_queue_depth", "gauge", "requests waiting for a batch slot",
         sample("sim_queue_depth", "", waiting));
  const double blocks = static_cast<double>(s.kv.size());
  const double cap = static_cast<double>(s.kv.capacity_blocks());
  metric(out, "sim_kv_blocks", "gauge", "blocks held by the KV cache model",
         sample("sim_kv_blocks", "", blocks));
  metric(out, "sim_kv_capacity_blocks", "gauge", "KV cache capacity in blocks",
         sample("sim_kv_capacity_blocks", "", cap));
  metric(out, "sim_kv_evictions_total", "counter", "blocks evicted (LRU)",
         sample("sim_kv_evictions_total", "", static_cast<double>(s.kv.evictions())));
  if (s.opts.role != PdRole::kNone) {
    metric(out, "sim_pd_rooms", "gauge", "prefill: KV rooms waiting for their decode worker",
           sample("sim_pd_rooms", "", static_cast<double>(s.rooms.size())));
    metric(out, "sim_pd_rooms_registered_total", "counter", "prefill: KV rooms registered",
           sample("sim_pd_rooms_registered_total", "", ld(c.pd_registered)));
    metric(out, "sim_pd_rooms_served_total", "counter",
           "prefill: KV rooms handed to a decode worker",
           sample("sim_pd_rooms_served_total", "", ld(c.pd_served)));
    metric(out, "sim_pd_room_misses_total", "counter",
           "prefill: asks for a room not (or not yet) there",
           sample("sim_pd_room_misses_total", "", ld(c.pd_misses)));
    metric(out, "sim_pd_rooms_evicted_total", "counter",
           "prefill: rooms dropped because the table was full (--pd-rooms)",
           sample("sim_pd_rooms_evicted_total", "", static_cast<double>(s.rooms.evicted())));
    metric(out, "sim_pd_rooms_expired_total", "counter",
           "prefill: rooms dropped unclaimed after --pd-room-ttl-ms",
           sample("sim_pd_rooms_expired_total", "", static_cast<double>(s.rooms.expired())));
    metric(out, "sim_pd_fetches_total", "counter", "decode: KV fetches by outcome",
           sample("sim_pd_fetches_total", "outcome=\"ok\"", ld(c.pd_fetched)) +
               sample("sim_pd_fetches_total", "outcome=\"failed\"", ld(c.pd_fetch_failed)));
    metric(out, "sim_pd_remote_tokens_total", "counter",
           "decode: prompt tokens whose KV came from a prefill worker",
           sample("sim_pd_remote_tokens_total", "", ld(c.pd_remote_tokens)));
  }
  // The gauges a router scrapes from vLLM and SGLang, under their names and
  // labels, with the same values as the sim_* gauges above.
  const double usage = cap > 0 ? blocks / cap : 0.0;
  const std::string model = s.opts.models.empty() ? "sim-model" : s.opts.models.front();
  if (s.opts.metrics_vllm) {
    const std::string l = "engine=\"0\",model_name=\"" + model + "\"";
    metric(out, "vllm:num_requests_running", "gauge", "as vLLM: requests running",
           sample("vllm:num_requests_running", l, running));
    metric(out, "vllm:num_requests_waiting", "gauge", "as vLLM: requests waiting",
           sample("vllm:num_requests_waiting", l, waiting));
    metric(out, "vllm:kv_cache_usage_perc", "gauge", "as vLLM: KV cache usage (0..1)",
           sample("vllm:kv_cache_usage_perc", l, usage));
    metric(out, "vllm:gpu_cache_usage_perc", "gauge", "as vLLM before 0.10: KV cache usage (0..1)",
           sample("vllm:gpu_cache_usage_perc", l, usage));
  }
  if (s.opts.metrics_sglang) {
    const std::string l = "model_name=\"" + model + "\",engine_type=\"unified\",tp_rank=\"0\"";
    metric(out, "sglang:num_running_reqs", "gauge", "as SGLang: running requests",
           sample("sglang:num_running_reqs", l, running));
    metric(out, "sglang:num_queue_reqs", "gauge", "as SGLang: requests in the waiting queue",
           sample("sglang:num_queue_reqs", l, waiting));
    metric(out, "sglang:token_usage", "gauge", "as SGLang: KV token usage (0..1)",
           sample("sglang:token_usage", l, usage));
  }
  return out;
}

}  // namespace radixmesh::tools::sim
