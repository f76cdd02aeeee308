#include "tools/loadgen/run_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace radixmesh::tools::loadgen {

using nlohmann::json;

Percentiles percentiles(std::vector<double>& s) {
  Percentiles p;
  if (s.empty()) return p;
  std::sort(s.begin(), s.end());
  auto rank = [&](double q) {
    size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(s.size())));
    return s[std::min(s.size() - 1, i == 0 ? 0 : i - 1)];
  };
  p.p50 = rank(0.50);
  p.p90 = rank(0.90);
  p.p99 = rank(0.99);
  double sum = 0;
  for (double v : s) sum += v;
  p.mean = sum / static_cast<double>(s.size());
  p.max = s.back();
  return p;
}

namespace {

std::string cause_name(const Outcome& o) {
  switch (o.cause) {
    case Cause::kOk:
      return "ok";
    case Cause::kHttpStatus:
      return "http_" + std::to_string(o.status);
    case Cause::kConnect:
      return "connect";
    case Cause::kTimeout:
      return "timeout";
    case Cause::kIo:
      return "io";
    case Cause::kProtocol:
      return "protocol";
  }
  return "other";
}

json pct_json(std::vector<double> v) {
  Percentiles p = percentiles(v);
  auto r = [](double x) { return std::round(x * 1000.0) / 1000.0; };
  return {{"p50", r(p.p50)},
          {"p90", r(p.p90)},
          {"p99", r(p.p99)},
          {"mean", r(p.mean)},
          {"max", r(p.max)}};
}

}  // namespace

void RunStats::record(const Outcome& o) {
  last_ = std::chrono::steady_clock::now();
  ++per_target_[o.target];
  if (o.cause != Cause::kOk) {
    ++failed_;
    ++failed_by_cause_[cause_name(o)];
    if (first_error_.empty()) first_error_ = cause_name(o) + ": " + o.detail;
    return;
  }
  ++ok_;
  ttft_ms_.push_back(o.ttft_ms);
  latency_ms_.push_back(o.latency_ms);
  if (o.has_usage) {
    prompt_tokens_ += o.prompt_tokens;
    cached_tokens_ += o.cached_tokens;
    completion_tokens_ += o.completion_tokens;
  } else {
    ++without_usage_;
  }
  ++per_worker_[o.worker_id.empty() ? "(none)" : o.worker_id];
}

double RunStats::elapsed_s() const {
  if (sent() == 0) return 0;
  return std::chrono::duration<double>(last_ - t0_).count();
}

std::string RunStats::to_json(const LoadgenOptions& o, uint64_t planned) const {
  const double secs = elapsed_s();
  json j;
  j["workload"] = o.trace_path.empty() ? to_string(o.workload) : "trace";
  j["endpoint"] = to_string(o.api);
  j["mode"] = o.rate > 0 ? "open" : "closed";
  j["concurrency"] = o.concurrency;
  j["rate"] = o.rate;
  j["stream"] = o.stream;
  j["seed"] = o.seed;
  j["targets"] = o.targets;
  j["pinned"] = o.pinned;
  j["per_target"] = per_target_;
  j["requests"] = {{"planned", planned},
                   {"sent", sent()},
                   {"ok", ok_},
                   {"failed", failed_},
                   {"failed_by_cause", failed_by_cause_},
                   {"first_error", first_error_}};
  j["duration_s"] = secs;
  j["throughput_rps"] = secs > 0 ? static_cast<double>(ok_) / secs : 0.0;
  j["output_tokens_per_s"] = secs > 0 ? static_cast<double>(completion_tokens_) / secs : 0.0;
  j["ttft_ms"] = pct_json(ttft_ms_);
  j["latency_ms"] = pct_json(latency_ms_);
  j["tokens"] = {{"prompt", prompt_tokens_},
                 {"cached", cached_tokens_},
                 {"completion", completion_tokens_},
                 {"responses_without_usage", without_usage_}};
  j["cache_hit_ratio"] =
      prompt_tokens_ > 0 ? static_cast<double>(cached_tokens_) / static_cast<double>(prompt_tokens_)
                         : 0.0;
  uint64_t max = 0;
  for (const auto& [id, n] : per_worker_) max = std::max(max, n);
  const size_t workers = std::max<size_t>(per_worker_.size(), o.expect_workers);
  const double mean = workers ? static_cast<double>(ok_) / static_cast<double>(workers) : 0.0;
  j["workers"] = {{"seen", per_worker_.size()},
                  {"counted", workers},
                  {"per_worker", per_worker_},
                  {"max", max},
                  {"mean", mean},
                  {"max_over_mean", mean > 0 ? static_cast<double>(max) / mean : 0.0}};
  return j.dump();
}

std::string RunStats::to_table(const LoadgenOptions& o, uint64_t planned) const {
  json j = json::parse(to_json(o, planned));
  char buf[512];
  std::string out;
  auto line = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    out += buf;
  };
  line("workload %s  endpoint %s  %s loop  %s  targets %zu%s\n",
       o.trace_path.empty() ? to_string(o.workload) : "trace", to_string(o.api),
       o.rate > 0 ? "open" : "closed", o.stream ? "streaming" : "non-streaming", o.targets.size(),
       o.pinned ? " (pinned by conversation)" : "");
  line("requests   sent %llu  ok %llu  failed %llu  (planned %llu)\n",
       static_cast<unsigned long long>(sent()), static_cast<unsigned long long>(ok_),
       static_cast<unsigned long long>(failed_), static_cast<unsigned long long>(planned));
  for (const auto& [cause, n] : failed_by_cause_)
    line("  failed   %-12s %llu\n", cause.c_str(), static_cast<unsigned long long>(n));
  if (!first_error_.empty()) line("  first error: %.200s\n", first_error_.c_str());
  line("duration   %.2f s   throughput %.1f req/s   output %.1f tokens/s\n",
       j["duration_s"].get<double>(), j["throughput_rps"].get<double>(),
       j["output_tokens_per_s"].get<double>());
  line("%-10s %10s %10s %10s %10s %10s\n", "ms", "p50", "p90", "p99", "mean", "max");
  for (const char* k : {"ttft_ms", "latency_ms"}) {
    const json& p = j[k];
    line("%-10s %10.2f %10.2f %10.2f %10.2f %10.2f\n", k[0] == 't' ? "TTFT" : "latency",
         p["p50"].get<double>(), p["p90"].get<double>(), p["p99"].get<double>(),
         p["mean"].get<double>(), p["max"].get<double>());
  }
  line("cache hit  %.3f   (cached %llu of %llu prompt tokens)\n",
       j["cache_hit_ratio"].get<double>(), static_cast<unsigned long long>(cached_tokens_),
       static_cast<unsigned long long>(prompt_tokens_));
  line("workers    %zu seen   max/mean load %.2f\n", per_worker_.size(),
       j["workers"]["max_over_mean"].get<double>());
  for (const auto& [id, n] : per_worker_)
    line("  %-24s %llu\n", id.c_str(), static_cast<unsigned long long>(n));
  return out;
}

}  // namespace radixmesh::tools::loadgen
