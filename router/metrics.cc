// Prometheus registry and text exposition (see metrics.h).
#include "router/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace radixmesh::router {
namespace {

void check_name(const std::string& name) {
  if (name.rfind("radixmesh_", 0) != 0) {
    throw std::invalid_argument("metric name '" + name + "' must start with radixmesh_");
  }
  for (char ch : name) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == ':';
    if (!ok) throw std::invalid_argument("metric name '" + name + "' has an invalid character");
  }
}

std::string escape_help(const std::string& h) {
  std::string out;
  for (char ch : h) {
    if (ch == '\\')
      out += "\\\\";
    else if (ch == '\n')
      out += "\\n";
    else
      out += ch;
  }
  return out;
}

// {a="x",b="y"} plus an optional extra label (le="...") for histogram buckets.
std::string label_block(const std::vector<std::string>& names, const LabelValues& values,
                        const std::string& extra_name = "", const std::string& extra_value = "") {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i] + "=\"" + escape_label_value(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name + "=\"" + extra_value + "\"";
  }
  return out + "}";
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " " + escape_help(help) + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

template <typename Map>
void check_free(const std::string& name, const Map& a, const char* other_kind) {
  if (a.count(name)) {
    throw std::invalid_argument("metric '" + name + "' already registered as a " + other_kind);
  }
}

template <typename F>
F& get_or_make(std::map<std::string, std::unique_ptr<F>>& m, const std::string& name,
               const std::string& help, std::vector<std::string> labels,
               std::vector<double> bounds = {}) {
  auto it = m.find(name);
  if (it != m.end()) {
    if (it->second->label_names() != labels) {
      throw std::invalid_argument("metric '" + name + "' re-registered with other labels");
    }
    return *it->second;
  }
  auto f = std::make_unique<F>(name, help, std::move(labels), std::move(bounds));
  F& ref = *f;
  m.emplace(name, std::move(f));
  return ref;
}

}  // namespace

void Gauge::set_max(double v) {
  double cur = v_.load(std::memory_order_relaxed);
  while (v > cur && !v_.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
    throw std::invalid_argument("histogram bounds must be strictly ascending");
  }
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // Bucket i counts values <= bounds_[i] (and > bounds_[i-1]); the last is +Inf.
  size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = acc;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  // The +Inf bucket and _count must agree for scrapers: use the bucket total.
  s.count = acc;
  return s;
}

std::vector<double> latency_buckets_seconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
}

template <typename T>
Family<T>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <typename T>
std::shared_ptr<T> Family<T>::with(const LabelValues& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric '" + name_ + "' takes " +
                                std::to_string(label_names_.size()) + " label values");
  }
  std::lock_guard lock(mu_);
  auto& slot = children_[values];
  if (!slot) {
    if constexpr (std::is_same_v<T, Histogram>) {
      slot = std::make_shared<Histogram>(bounds_);
    } else {
      slot = std::make_shared<T>();
    }
  }
  return slot;
}

template <typename T>
bool Family<T>::remove(const LabelValues& values) {
  std::lock_guard lock(mu_);
  return children_.erase(values) > 0;
}

template <typename T>
std::vector<std::pair<LabelValues, std::shared_ptr<T>>> Family<T>::children() const {
  std::lock_guard lock(mu_);
  return {children_.begin(), children_.end()};
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names) {
  check_name(name);
  std::lock_guard lock(mu_);
  check_free(name, gauges_, "gauge");
  check_free(name, histograms_, "histogram");
  return get_or_make(counters_, name, help, std::move(label_names));
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names) {
  check_name(name);
  std::lock_guard lock(mu_);
  check_free(name, counters_, "counter");
  check_free(name, histograms_, "histogram");
  return get_or_make(gauges_, name, help, std::move(label_names));
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names,
                                            std::vector<double> bounds) {
  check_name(name);
  std::lock_guard lock(mu_);
  check_free(name, counters_, "counter");
  check_free(name, gauges_, "gauge");
  return get_or_make(histograms_, name, help, std::move(label_names), std::move(bounds));
}

void MetricsRegistry::add_collector(Collector collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::render() const {
  // Render each family into its own string keyed by name, then concatenate in
  // name order; the registry lock only guards the maps, not the values.
  std::map<std::string, std::string> parts;
  std::vector<Collector> collectors;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, f] : counters_) {
      std::string& out = parts[name];
      header(out, name, f->help(), "counter");
      for (const auto& [labels, c] : f->children()) {
        out +=
            name + label_block(f->label_names(), labels) + " " + std::to_string(c->value()) + "\n";
      }
    }
    for (const auto& [name, f] : gauges_) {
      std::string& out = parts[name];
      header(out, name, f->help(), "gauge");
      for (const auto& [labels, g] : f->children()) {
        out += name + label_block(f->label_names(), labels) + " " +
               format_sample_value(g->value()) + "\n";
      }
    }
    for (const auto& [name, f] : histograms_) {
      std::string& out = parts[name];
      header(out, name, f->help(), "histogram");
      for (const auto& [labels, h] : f->children()) {
        Histogram::Snapshot s = h->snapshot();
        for (size_t i = 0; i < s.bounds.size(); ++i) {
          out += name + "_bucket" +
                 label_block(f->label_names(), labels, "le", format_sample_value(s.bounds[i])) +
                 " " + std::to_string(s.cumulative[i]) + "\n";
        }
        out += name + "_bucket" + label_block(f->label_names(), labels, "le", "+Inf") + " " +
               std::to_string(s.count) + "\n";
        out += name + "_sum" + label_block(f->label_names(), labels) + " " +
               format_sample_value(s.sum) + "\n";
        out += name + "_count" + label_block(f->label_names(), labels) + " " +
               std::to_string(s.count) + "\n";
      }
    }
    collectors = collectors_;
  }
  for (const auto& collect : collectors) {
    for (const auto& fam : collect()) {
      if (fam.name.rfind("radixmesh_", 0) != 0 || parts.count(fam.name)) continue;
      std::string& out = parts[fam.name];
      header(out, fam.name, fam.help, fam.type == MetricType::kCounter ? "counter" : "gauge");
      for (const auto& [labels, v] : fam.samples) {
        if (labels.size() != fam.label_names.size()) continue;
        out +=
            fam.name + label_block(fam.label_names, labels) + " " + format_sample_value(v) + "\n";
      }
    }
  }
  std::string text;
  for (const auto& [name, part] : parts) text += part;
  return text;
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char ch : v) {
    if (ch == '\\')
      out += "\\\\";
    else if (ch == '"')
      out += "\\\"";
    else if (ch == '\n')
      out += "\\n";
    else
      out += ch;
  }
  return out;
}

std::string format_sample_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // Prefer the shortest representation that round-trips.
  for (int prec = 6; prec < 17; ++prec) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", prec, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
}

}  // namespace radixmesh::router
