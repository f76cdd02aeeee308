// Prometheus text parsing and the worker load read from vLLM and SGLang
// expositions (router/prometheus_text.h, router/worker_load.h), and the
// Worker's published load word (router/worker.h).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "router/prometheus_text.h"
#include "router/worker.h"
#include "router/worker_load.h"

using namespace radixmesh::router;

namespace {

struct Collected {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value;
  std::optional<int64_t> ts;
};

std::vector<Collected> parse_all(std::string_view body, PromStats* stats = nullptr,
                                 PromLimits limits = {}) {
  std::vector<Collected> out;
  PromStats s = parse_prometheus_text(
      body, {},
      [&](const PromSample& p) {
        Collected c{std::string(p.name), {}, p.value, p.timestamp_ms};
        for (const auto& l : p.labels) c.labels.emplace_back(std::string(l.name), l.value);
        out.push_back(std::move(c));
      },
      limits);
  if (stats) *stats = s;
  return out;
}

// A vLLM 0.10-style exposition: HELP/TYPE, model_name and engine labels,
// histograms the router ignores.
constexpr std::string_view kVllm =
    R"(# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B"} 7.0
vllm:num_requests_running{engine="1",model_name="meta-llama/Llama-3.1-8B"} 5.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B"} 3.0
vllm:num_requests_waiting{engine="1",model_name="meta-llama/Llama-3.1-8B"} 1.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B"} 0.5
vllm:kv_cache_usage_perc{engine="1",model_name="meta-llama/Llama-3.1-8B"} 0.25
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="meta-llama/Llama-3.1-8B"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="meta-llama/Llama-3.1-8B"} 12.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="meta-llama/Llama-3.1-8B"} 12.0
)";

constexpr std::string_view kSglangColon =
    R"(# HELP sglang:num_running_reqs The number of running requests.
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="Qwen/Qwen2.5-7B",engine_type="unified",tp_rank="0",pp_rank="0"} 11.0
# HELP sglang:num_queue_reqs The number of requests in the waiting queue.
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name="Qwen/Qwen2.5-7B",engine_type="unified",tp_rank="0",pp_rank="0"} 4.0
# HELP sglang:token_usage The token usage.
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="Qwen/Qwen2.5-7B",engine_type="unified",tp_rank="0",pp_rank="0"} 0.62
)";

}  // namespace

TEST_CASE("prometheus text: comments, labels, escapes, special values, timestamps") {
  PromStats st;
  auto s = parse_all(
      "# HELP a_total with \"quotes\" and \\ backslash\n"
      "# TYPE a_total counter\n"
      "# a free comment\n"
      "\n"
      "a_total 3\n"
      "b{x=\"1\",y=\"two words\"} 2.5e3 1700000000000\n"
      "c{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\",} +Inf\n"
      "d -Inf\n"
      "e NaN\n"
      "f{} 7\r\n"
      "  g\t{ k = \"v\" }\t-0.5  \n",
      &st);
  REQUIRE(s.size() == 7);
  CHECK(st.malformed == 0);
  CHECK(st.comments == 3);
  CHECK(s[0].name == "a_total");
  CHECK(s[0].value == 3);
  CHECK(!s[0].ts);
  CHECK(s[1].labels ==
        std::vector<std::pair<std::string, std::string>>{{"x", "1"}, {"y", "two words"}});
  CHECK(s[1].value == 2500);
  CHECK(s[1].ts == 1700000000000);
  CHECK(s[2].labels[0].second == "C:\\dir");
  CHECK(s[2].labels[1].second == "say \"hi\"\nbye");
  CHECK(std::isinf(s[2].value));
  CHECK(s[2].value > 0);
  CHECK(std::isinf(s[3].value));
  CHECK(s[3].value < 0);
  CHECK(std::isnan(s[4].value));
  CHECK(s[5].name == "f");
  CHECK(s[5].labels.empty());
  CHECK(s[6].name == "g");
  CHECK(s[6].labels[0].first == "k");
  CHECK(s[6].value == -0.5);
}

TEST_CASE("prometheus text: malformed lines are skipped and counted, the rest still parse") {
  PromStats st;
  auto s = parse_all(
      "ok1 1\n"
      "9bad 1\n"                  // name starts with a digit
      "nolabelend{a=\"1\" 2\n"    // unterminated label set
      "badescape{a=\"\\t\"} 1\n"  // \t is not an escape of the format
      "unquoted{a=1} 1\n"         // label value without quotes
      "dup{a=\"1\",a=\"2\"} 1\n"  // duplicate label name
      "novalue\n"                 // no value
      "badvalue 1.2.3\n"          // not a float
      "plusminus +-1\n"           // not a float
      "badts 1 12x\n"             // timestamp not an integer
      "extra 1 2 3\n"             // junk after the timestamp
      "unterminated{a=\"1} 1\n"   // label value never closes
      "{a=\"1\"} 1\n"             // no name
      "ok2{a=\"x\"} 2\n",
      &st);
  REQUIRE(s.size() == 2);
  CHECK(s[0].name == "ok1");
  CHECK(s[1].name == "ok2");
  CHECK(st.malformed == 12);
}

TEST_CASE("prometheus text: bounded in body size, lines and labels") {
  PromLimits limits;
  limits.max_bytes = 16;
  PromStats st;
  CHECK(parse_all("a 1\nb 2\nc 3\nd 4\ne 5\n", &st, limits).empty());
  CHECK(st.too_large);

  limits = {};
  limits.max_lines = 3;
  auto s = parse_all("a 1\nb 2\nc 3\nd 4\ne 5\n", &st, limits);
  CHECK(s.size() == 3);
  CHECK(st.line_limit_hit);

  limits = {};
  limits.max_labels = 2;
  s = parse_all("a{x=\"1\",y=\"2\"} 1\nb{x=\"1\",y=\"2\",z=\"3\"} 1\n", &st, limits);
  CHECK(s.size() == 1);
  CHECK(st.malformed == 1);
}

TEST_CASE("prometheus text: the name filter skips lines without parsing them") {
  int seen = 0;
  PromStats st = parse_prometheus_text(
      "keep 1\nskip{broken 1\nkeep{a=\"1\"} 2\n",
      [](std::string_view name) { return name == "keep"; }, [&](const PromSample&) { ++seen; });
  CHECK(seen == 2);
  CHECK(st.filtered == 1);
  CHECK(st.malformed == 0);  // the skipped line's label set was never read
}

TEST_CASE("worker load: vLLM sums engines, averages KV usage, ignores histograms") {
  LoadExtraction x = extract_worker_load(kVllm);
  REQUIRE(x.load);
  CHECK(x.dialect == MetricsDialect::kVllm);
  CHECK(x.load->running == 12);
  CHECK(x.load->waiting == 4);
  REQUIRE(x.load->kv_usage);
  CHECK(*x.load->kv_usage == doctest::Approx(0.375));
  CHECK(x.stats.malformed == 0);
}

TEST_CASE("worker load: older vLLM gpu_cache_usage_perc, used only without the new name") {
  LoadExtraction x = extract_worker_load(
      "vllm:num_requests_running{model_name=\"m\"} 2\n"
      "vllm:num_requests_waiting{model_name=\"m\"} 0\n"
      "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.9\n");
  REQUIRE(x.load);
  CHECK(*x.load->kv_usage == doctest::Approx(0.9));
  x = extract_worker_load(
      "vllm:num_requests_running 2\n"
      "vllm:gpu_cache_usage_perc 0.9\n"
      "vllm:kv_cache_usage_perc 0.1\n");
  CHECK(*x.load->kv_usage == doctest::Approx(0.1));
}

TEST_CASE("worker load: SGLang under both prefixes") {
  LoadExtraction x = extract_worker_load(kSglangColon);
  REQUIRE(x.load);
  CHECK(x.dialect == MetricsDialect::kSglang);
  CHECK(x.load->running == 11);
  CHECK(x.load->waiting == 4);
  CHECK(*x.load->kv_usage == doctest::Approx(0.62));

  std::string underscore(kSglangColon);
  for (size_t p; (p = underscore.find("sglang:")) != std::string::npos;) underscore[p + 6] = '_';
  x = extract_worker_load(underscore);
  REQUIRE(x.load);
  CHECK(x.dialect == MetricsDialect::kSglang);
  CHECK(x.load->running == 11);
  CHECK(x.load->waiting == 4);
}

TEST_CASE("worker load: one dialect per scrape, so double exporters are not summed") {
  std::string both(kVllm);
  both += kSglangColon;
  LoadExtraction x = extract_worker_load(both);
  REQUIRE(x.load);
  CHECK(x.dialect == MetricsDialect::kVllm);
  CHECK(x.load->running == 12);
}

TEST_CASE("worker load: NaN ignored, negatives floored, KV clamped, no gauge -> nullopt") {
  LoadExtraction x = extract_worker_load(
      "vllm:num_requests_running NaN\n"
      "vllm:num_requests_waiting -3\n"
      "vllm:kv_cache_usage_perc 1.7\n"
      "vllm:num_requests_running{broken 5\n");  // malformed: skipped, counted
  REQUIRE(x.load);
  CHECK(x.load->running == 0);
  CHECK(x.load->waiting == 0);
  CHECK(*x.load->kv_usage == doctest::Approx(1.0));
  CHECK(x.stats.malformed == 1);

  CHECK(!extract_worker_load("process_cpu_seconds_total 1\n").load);
  CHECK(!extract_worker_load("").load);
  CHECK(!extract_worker_load("vllm:kv_cache_usage_perc 0.5\n").load);  // KV alone says no load
}

TEST_CASE("worker: published load round-trips and goes stale") {
  auto addr = parse_worker_url("http://127.0.0.1:7001");
  REQUIRE(addr.ok());
  Worker w(1, *addr, CircuitBreaker::Options{});
  CHECK(!w.load_report(1000, 500));
  w.publish_load(WorkerLoad{3, 8, 0.5}, 1000);
  auto r = w.load_report(1200, 500);
  REQUIRE(r);
  CHECK(r->waiting == 3);
  CHECK(r->running == 8);
  CHECK(*r->kv_usage == doctest::Approx(0.5).epsilon(1e-4));
  CHECK(!w.load_report(1501, 500));  // older than the window

  w.publish_load(WorkerLoad{1u << 30, 0, std::nullopt}, 2000);  // saturates, no KV
  r = w.load_report(2000, 500);
  REQUIRE(r);
  CHECK(r->waiting == (1u << 24) - 1);
  CHECK(!r->kv_usage);
  w.clear_load();
  CHECK(!w.load_report(2000, 500));
}
