// A small Prometheus metrics registry (text exposition format 0.0.4).
//
// Shape:
//   MetricsRegistry ──owns──> Family<Counter|Gauge|Histogram> ──owns──> children
//   (one family per metric name; one child per label-value set)
//
// Hot path: resolve a child once with family.with({"chat", "200"}) and keep
// the returned handle; inc()/set()/observe() on it are lock-free atomics
// (relaxed: a scrape may see one counter a few increments behind another,
// never a torn value). with() takes the family's mutex and is meant for
// start-up or first use of a label set, not for every request.
//
// Lifetime: the registry owns families; a family is never removed, so
// references to families stay valid as long as the registry. Children are held
// by shared_ptr: family.remove(labels) drops a label set from the exposition
// (e.g. a removed worker) while a handle someone still holds stays valid.
//
// Collectors: values that already live elsewhere (tree bytes, memory tier)
// are read at scrape time by a collector callback instead of being copied on
// every change. Collectors run on the scraping thread, must be quick, must
// not call back into the registry, and may take their own short locks.
//
// Threads: every method is safe from any thread.
// Names: every metric name must start with "radixmesh_" (checked, throws at
// registration: a programming error, found at start-up).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace radixmesh::router {

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  void sub(double d) { v_.fetch_sub(d, std::memory_order_relaxed); }
  // Raises the gauge to v if v is larger (e.g. the longest lock hold).
  void set_max(double v);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

// Fixed upper bounds (ascending, +Inf implicit). observe() is a binary search
// over the bounds and three relaxed atomic adds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (size bounds+1)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

// Latency buckets in seconds, 100 µs .. 60 s.
std::vector<double> latency_buckets_seconds();

enum class MetricType { kCounter, kGauge, kHistogram };

template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {});

  // The child for these label values (created on first use). Throws
  // std::invalid_argument when the number of values does not match the names.
  std::shared_ptr<T> with(const LabelValues& values);
  // Drops a label set from the exposition; returns whether it existed.
  bool remove(const LabelValues& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Copy of the children under the lock, for rendering.
  std::vector<std::pair<LabelValues, std::shared_ptr<T>>> children() const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<LabelValues, std::shared_ptr<T>> children_;  // guarded by mu_
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// What a collector returns: one family of samples read at scrape time.
struct CollectedFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;  // counter or gauge
  std::vector<std::string> label_names;
  std::vector<std::pair<LabelValues, double>> samples;
};
using Collector = std::function<std::vector<CollectedFamily>()>;

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registering the same name twice returns the existing family when the type
  // and labels agree, and throws std::invalid_argument otherwise.
  CounterFamily& counter(const std::string& name, const std::string& help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help,
                     std::vector<std::string> label_names = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help,
                             std::vector<std::string> label_names,
                             std::vector<double> bounds = latency_buckets_seconds());

  void add_collector(Collector collector);

  // The whole exposition, families sorted by name, in text format 0.0.4.
  std::string render() const;

  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  mutable std::mutex mu_;  // guards the three maps and collectors_ (not the children)
  std::map<std::string, std::unique_ptr<CounterFamily>> counters_;
  std::map<std::string, std::unique_ptr<GaugeFamily>> gauges_;
  std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_;
  std::vector<Collector> collectors_;
};

// Text-format helpers (exposed for tests and for tools that render metrics).
std::string escape_label_value(const std::string& v);
std::string format_sample_value(double v);

}  // namespace radixmesh::router
