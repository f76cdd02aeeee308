#include "router/worker_load.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace radixmesh::router {
namespace {

enum Quantity : uint8_t { kWaiting, kRunning, kKv, kKvOld, kQuantities };

// One dialect spelling: a prefix and the suffix of each quantity.
struct Family {
  MetricsDialect dialect;
  std::string_view prefix;
  std::array<std::string_view, kQuantities> names;  // empty: not in this dialect
};

constexpr std::array<Family, 3> kFamilies{{
    {MetricsDialect::kVllm,
     "vllm:",
     {"num_requests_waiting", "num_requests_running", "kv_cache_usage_perc",
      "gpu_cache_usage_perc"}},
    {MetricsDialect::kSglang, "sglang:", {"num_queue_reqs", "num_running_reqs", "token_usage", ""}},
    {MetricsDialect::kSglang, "sglang_", {"num_queue_reqs", "num_running_reqs", "token_usage", ""}},
}};

struct Accumulator {
  std::array<double, kQuantities> sum{};
  std::array<uint32_t, kQuantities> count{};
};

// (family, quantity) of a sample name, or false.
bool classify(std::string_view name, size_t& family, Quantity& q) {
  for (size_t f = 0; f < kFamilies.size(); ++f) {
    const Family& fam = kFamilies[f];
    if (!name.starts_with(fam.prefix)) continue;
    const std::string_view rest = name.substr(fam.prefix.size());
    for (size_t k = 0; k < kQuantities; ++k) {
      if (!fam.names[k].empty() && rest == fam.names[k]) {
        family = f;
        q = static_cast<Quantity>(k);
        return true;
      }
    }
  }
  return false;
}

uint32_t to_count(double v) {
  if (!(v > 0)) return 0;
  return static_cast<uint32_t>(std::min(std::llround(v), static_cast<long long>(1 << 24) - 1));
}

}  // namespace

std::string_view to_string(MetricsDialect d) {
  switch (d) {
    case MetricsDialect::kVllm:
      return "vllm";
    case MetricsDialect::kSglang:
      return "sglang";
    case MetricsDialect::kNone:
      break;
  }
  return "none";
}

LoadExtraction extract_worker_load(std::string_view exposition, const PromLimits& limits) {
  std::array<Accumulator, kFamilies.size()> acc{};
  LoadExtraction out;
  out.stats = parse_prometheus_text(
      exposition,
      [](std::string_view name) {
        size_t f;
        Quantity q;
        return classify(name, f, q);
      },
      [&](const PromSample& s) {
        size_t f;
        Quantity q;
        if (!classify(s.name, f, q) || !std::isfinite(s.value)) return;
        acc[f].sum[q] += std::max(0.0, s.value);
        ++acc[f].count[q];
      },
      limits);
  for (size_t f = 0; f < kFamilies.size(); ++f) {
    const Accumulator& a = acc[f];
    if (a.count[kWaiting] == 0 && a.count[kRunning] == 0) continue;
    WorkerLoad load;
    load.waiting = to_count(a.sum[kWaiting]);
    load.running = to_count(a.sum[kRunning]);
    const Quantity kv = a.count[kKv] > 0 ? kKv : kKvOld;
    if (a.count[kv] > 0) load.kv_usage = std::clamp(a.sum[kv] / a.count[kv], 0.0, 1.0);
    out.load = load;
    out.dialect = kFamilies[f].dialect;
    break;
  }
  return out;
}

}  // namespace radixmesh::router
