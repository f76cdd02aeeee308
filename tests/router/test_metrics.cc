// Metrics registry: the text exposition parsed back line by line, histogram
// semantics, label escaping, registration errors and concurrent updates.
#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "router/metrics.h"
#include "router/metrics_catalog.h"

using namespace radixmesh::router;

namespace {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> help, type;
  std::vector<Sample> samples;

  const Sample* find(const std::string& name, std::map<std::string, std::string> labels) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return &s;
    }
    return nullptr;
  }
};

// A strict parser of the text format 0.0.4 subset we emit: fails the test on
// any line it does not understand.
Exposition parse(const std::string& text) {
  Exposition e;
  std::istringstream in(text);
  std::string line;
  REQUIRE((text.empty() || text.back() == '\n'));
  while (std::getline(in, line)) {
    REQUIRE_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      std::string rest = line.substr(7);
      size_t sp = rest.find(' ');
      e.help[rest.substr(0, sp)] = rest.substr(sp + 1);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      size_t sp = rest.find(' ');
      std::string t = rest.substr(sp + 1);
      REQUIRE((t == "counter" || t == "gauge" || t == "histogram"));
      e.type[rest.substr(0, sp)] = t;
      continue;
    }
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name += line[i++];
    REQUIRE(i < line.size());
    if (line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        size_t eq = line.find('=', i);
        REQUIRE(eq != std::string::npos);
        std::string key = line.substr(i, eq - i);
        REQUIRE(line[eq + 1] == '"');
        std::string value;
        size_t j = eq + 2;
        for (; line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        s.labels[key] = value;
        i = j + 1;
        if (line[i] == ',') ++i;
      }
      ++i;
    }
    REQUIRE(line[i] == ' ');
    std::string v = line.substr(i + 1);
    s.value = v == "+Inf" ? 1e308 : std::stod(v);
    e.samples.push_back(s);
  }
  return e;
}

}  // namespace

TEST_CASE("metrics: counters and gauges render with HELP, TYPE and labels") {
  MetricsRegistry r;
  auto& req = r.counter("radixmesh_requests_total", "Requests.", {"endpoint", "status"});
  req.with({"chat", "200"})->inc(3);
  req.with({"chat", "503"})->inc();
  auto& g = r.gauge("radixmesh_worker_in_flight", "In flight.", {"worker"});
  g.with({"http://127.0.0.1:7001"})->set(5);
  g.with({"http://127.0.0.1:7001"})->sub(2);
  auto& plain = r.gauge("radixmesh_up", "Up.");
  plain.with({})->set(1);

  Exposition e = parse(r.render());
  CHECK(e.type["radixmesh_requests_total"] == "counter");
  CHECK(e.type["radixmesh_worker_in_flight"] == "gauge");
  CHECK(e.help["radixmesh_requests_total"] == "Requests.");
  REQUIRE(e.find("radixmesh_requests_total", {{"endpoint", "chat"}, {"status", "200"}}));
  CHECK(e.find("radixmesh_requests_total", {{"endpoint", "chat"}, {"status", "200"}})->value == 3);
  CHECK(e.find("radixmesh_requests_total", {{"endpoint", "chat"}, {"status", "503"}})->value == 1);
  CHECK(e.find("radixmesh_worker_in_flight", {{"worker", "http://127.0.0.1:7001"}})->value == 3);
  CHECK(e.find("radixmesh_up", {})->value == 1);

  SUBCASE("remove drops a label set but a held handle stays usable") {
    auto handle = g.with({"http://127.0.0.1:7001"});
    CHECK(g.remove({"http://127.0.0.1:7001"}));
    handle->add(1);  // no crash, no exposition
    CHECK(parse(r.render())
              .find("radixmesh_worker_in_flight", {{"worker", "http://127.0.0.1:7001"}}) ==
          nullptr);
    CHECK_FALSE(g.remove({"http://127.0.0.1:7001"}));
  }
}

TEST_CASE("metrics: histogram buckets are cumulative with +Inf, sum and count") {
  MetricsRegistry r;
  auto& h =
      r.histogram("radixmesh_request_duration_seconds", "Latency.", {"endpoint"}, {0.01, 0.1, 1});
  auto child = h.with({"chat"});
  for (double v : {0.005, 0.01, 0.05, 0.5, 2.0, 3.0}) child->observe(v);
  Exposition e = parse(r.render());
  CHECK(e.type["radixmesh_request_duration_seconds"] == "histogram");
  auto bucket = [&](const std::string& le) {
    const Sample* s =
        e.find("radixmesh_request_duration_seconds_bucket", {{"endpoint", "chat"}, {"le", le}});
    REQUIRE(s != nullptr);
    return s->value;
  };
  CHECK(bucket("0.01") == 2);  // le is inclusive
  CHECK(bucket("0.1") == 3);
  CHECK(bucket("1") == 4);
  CHECK(bucket("+Inf") == 6);
  CHECK(e.find("radixmesh_request_duration_seconds_count", {{"endpoint", "chat"}})->value == 6);
  CHECK(e.find("radixmesh_request_duration_seconds_sum", {{"endpoint", "chat"}})->value ==
        doctest::Approx(5.565));
  CHECK_THROWS_AS(Histogram({1, 0.5}), std::invalid_argument);
}

TEST_CASE("metrics: label values are escaped and parse back to the original") {
  MetricsRegistry r;
  std::string nasty = "a\"b\\c\nd";
  r.counter("radixmesh_x_total", "X.", {"v"}).with({nasty})->inc();
  Exposition e = parse(r.render());
  CHECK(e.find("radixmesh_x_total", {{"v", nasty}}) != nullptr);
}

TEST_CASE("metrics: collectors add families read at scrape time") {
  MetricsRegistry r;
  double bytes = 100;
  r.add_collector([&] {
    CollectedFamily f;
    f.name = "radixmesh_tree_bytes";
    f.help = "Tree bytes.";
    f.label_names = {"model"};
    f.samples.push_back({{"m1"}, bytes});
    return std::vector<CollectedFamily>{f};
  });
  CHECK(parse(r.render()).find("radixmesh_tree_bytes", {{"model", "m1"}})->value == 100);
  bytes = 250;
  CHECK(parse(r.render()).find("radixmesh_tree_bytes", {{"model", "m1"}})->value == 250);
}

TEST_CASE("metrics: registration rules") {
  MetricsRegistry r;
  CHECK_THROWS_AS(r.counter("requests_total", "no prefix"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("radixmesh_bad-name", "dash"), std::invalid_argument);
  auto& a = r.counter("radixmesh_a_total", "A.", {"x"});
  CHECK(&r.counter("radixmesh_a_total", "A.", {"x"}) == &a);
  CHECK_THROWS_AS(r.counter("radixmesh_a_total", "A.", {"y"}), std::invalid_argument);
  CHECK_THROWS_AS(r.gauge("radixmesh_a_total", "A."), std::invalid_argument);
  CHECK_THROWS_AS(a.with({"1", "2"}), std::invalid_argument);
}

TEST_CASE("metrics: the router catalogue registers every family once") {
  MetricsRegistry r;
  RouterMetrics m(r);
  m.requests.with({"chat", "200"})->inc();
  m.lock_hold_max.with({"tree"})->set_max(0.002);
  m.lock_hold_max.with({"tree"})->set_max(0.001);
  Exposition e = parse(r.render());
  CHECK(e.find("radixmesh_lock_hold_max_seconds", {{"lock", "tree"}})->value ==
        doctest::Approx(0.002));
  CHECK_NOTHROW(RouterMetrics{r});  // same names, same labels: shared families
}

TEST_CASE("metrics: concurrent increments, observations and scrapes lose nothing") {
  MetricsRegistry r;
  auto& c = r.counter("radixmesh_c_total", "C.", {"t"});
  auto& h = r.histogram("radixmesh_h_seconds", "H.", {}, {0.5});
  auto& g = r.gauge("radixmesh_g", "G.");
  constexpr int kThreads = 4, kIters = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto mine = c.with({"shared"});
      auto hist = h.with({});
      auto gauge = g.with({});
      for (int i = 0; i < kIters; ++i) {
        mine->inc();
        hist->observe((i + t) % 2 ? 1.0 : 0.25);
        gauge->add(1);
        gauge->sub(1);
        gauge->set_max(0);
        if (i % 10000 == 0) c.with({std::to_string(t)})->inc();
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 50; ++i) parse(r.render());  // scrapes during updates stay well-formed
  });
  for (auto& th : threads) th.join();
  Exposition e = parse(r.render());
  CHECK(e.find("radixmesh_c_total", {{"t", "shared"}})->value == kThreads * kIters);
  CHECK(e.find("radixmesh_h_seconds_count", {})->value == kThreads * kIters);
  CHECK(e.find("radixmesh_h_seconds_bucket", {{"le", "0.5"}})->value == kThreads * kIters / 2);
  CHECK(e.find("radixmesh_h_seconds_sum", {})->value ==
        doctest::Approx(kThreads * kIters / 2 * 1.25));
  CHECK(e.find("radixmesh_g", {})->value == 0);
  for (int t = 0; t < kThreads; ++t) {
    CHECK(e.find("radixmesh_c_total", {{"t", std::to_string(t)}})->value == 5);
  }
}

TEST_CASE("metrics: sample values format as Prometheus numbers") {
  CHECK(format_sample_value(3) == "3");
  CHECK(format_sample_value(0.25) == "0.25");
  CHECK(std::stod(format_sample_value(0.1)) == 0.1);
  CHECK(format_sample_value(1.0 / 0.0) == "+Inf");
}
