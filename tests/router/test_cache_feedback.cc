// Cached-token feedback: reading the worker's usage report from a relayed
// body's tail (router/usage_tail.h) and trimming the tree when the worker
// reports less than predicted (router/cache_feedback.h).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "radix/prefix_tree.h"
#include "radix/tree_catalog.h"
#include "radix/worker_budgets.h"
#include "router/cache_feedback.h"
#include "router/metrics.h"
#include "router/usage_tail.h"

using namespace radixmesh;
using namespace radixmesh::router;

namespace {

std::optional<ReportedUsage> usage_of(std::string_view body) {
  return find_reported_usage(body);
}

struct Recorder : radix::TreeObserver {
  std::vector<radix::EvictEvent> evictions;
  void on_insert(std::string_view, const radix::InsertEvent&) override {}
  void on_evict(std::string_view, const radix::EvictEvent& e) override { evictions.push_back(e); }
  void on_remove_worker(std::string_view, radix::WorkerId) override {}
};

std::vector<radix::BlockHash> chain(size_t n, uint64_t seed) {
  std::vector<radix::BlockHash> out;
  for (size_t i = 0; i < n; ++i) out.push_back(seed * 1000003 + i + 1);
  return out;
}

radix::Hlc stamp(uint64_t ms) {
  return radix::Hlc::from_parts(ms, 0);
}

}  // namespace

TEST_CASE("usage: OpenAI body, stream tail, SGLang meta_info, Responses API") {
  auto u = usage_of(
      R"({"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":120,)"
      R"("completion_tokens":4,"total_tokens":124,"prompt_tokens_details":{"cached_tokens":96}}})");
  REQUIRE(u);
  CHECK(u->prompt_tokens == 120);
  CHECK(u->cached_tokens == 96);

  u = usage_of(
      "data: {\"choices\":[{\"delta\":{\"content\":\" cat\"},\"finish_reason\":\"length\"}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,"
      "\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n"
      "data: [DONE]\n\n");
  REQUIRE(u);
  CHECK(u->prompt_tokens == 9);
  CHECK(u->cached_tokens == 0);  // reported 0 is not "unreported"

  u = usage_of(R"({"text":"a b","meta_info":{"id":"1","prompt_tokens":50,"completion_tokens":2,)"
               R"("cached_tokens":32,"finish_reason":{"type":"length"}}})");
  REQUIRE(u);
  CHECK(u->prompt_tokens == 50);
  CHECK(u->cached_tokens == 32);

  u = usage_of(R"({"type":"response.completed","response":{"usage":{"input_tokens":70,)"
               R"("input_tokens_details":{"cached_tokens":64},"output_tokens":3}}})");
  REQUIRE(u);
  CHECK(u->prompt_tokens == 70);
  CHECK(u->cached_tokens == 64);
}

TEST_CASE("usage: not reported is not zero; text cannot fake a report; partial is nothing") {
  auto u = usage_of(R"({"usage":{"prompt_tokens":10,"prompt_tokens_details":null}})");
  REQUIRE(u);
  CHECK(!u->cached_tokens);  // vLLM without --enable-prompt-tokens-details
  u = usage_of(R"({"usage":{"prompt_tokens":10}})");
  REQUIRE(u);
  CHECK(!u->cached_tokens);

  // Generated text that spells a usage object is a JSON string: its quotes
  // are escaped, so the real (last unescaped) one wins.
  u = usage_of(
      R"({"choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":1,\"prompt_tokens_details\":{\"cached_tokens\":999}}"}}],)"
      R"("usage":{"prompt_tokens":40,"prompt_tokens_details":{"cached_tokens":16}}})");
  REQUIRE(u);
  CHECK(u->prompt_tokens == 40);
  CHECK(u->cached_tokens == 16);
  u = usage_of(R"({"choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":5}"}}]})");
  CHECK(!u);

  CHECK(!usage_of(R"({"usage":{"prompt_tokens":10,"prompt_tokens_det)"));  // cut off
  CHECK(!usage_of(R"({"usage":{"completion_tokens":3}})"));                // no prompt count
  CHECK(!usage_of("data: {\"choices\":[]}\n\ndata: [DONE]\n\n"));
  CHECK(!usage_of(""));
}

TEST_CASE("usage tail: bounded, keeps the end of a long stream fed in pieces") {
  UsageTail tail;
  tail.reset(true);
  std::string event = "data: {\"choices\":[{\"delta\":{\"content\":\" word\"}}]}\n\n";
  for (int i = 0; i < 5000; ++i) tail.feed(event.data(), event.size());  // ~250 KB
  const std::string last =
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":300,"
      "\"prompt_tokens_details\":{\"cached_tokens\":256}}}\n\ndata: [DONE]\n\n";
  // Split the final event across pieces, as socket reads do.
  tail.feed(last.data(), 17);
  tail.feed(last.data() + 17, last.size() - 17);
  auto u = tail.usage();
  REQUIRE(u);
  CHECK(u->cached_tokens == 256);

  std::string big(100000, 'x');  // one piece larger than the tail
  tail.reset(true);
  tail.feed(big.data(), big.size());
  tail.feed(last.data(), last.size());
  CHECK(tail.usage()->prompt_tokens == 300);

  tail.reset(false);  // disabled: ignores what it is fed
  tail.feed(last.data(), last.size());
  CHECK(!tail.usage());
}

TEST_CASE("feedback: a worker reporting less than predicted loses its tenancy past that depth") {
  Recorder observer;
  radix::TreeCatalog trees(radix::PrefixTree::Options{}, 8, nullptr, &observer);
  auto tree = *trees.get_or_create("m");
  MetricsRegistry registry;
  CacheFeedback feedback(trees, 64, &registry);

  const auto blocks = chain(40, 1);  // 40 blocks of 64 bytes = 2560 canonical bytes
  tree->insert(blocks, 7, stamp(1000));
  tree->insert(blocks, 8, stamp(1001));  // another worker holds the same prefix
  REQUIRE(tree->worker_blocks(7) == 40);

  // Worker 7 says 10 of 640 tokens were cached: 4 bytes per token, so 40
  // bytes: 0 whole blocks. Predicted 40.
  FeedbackInput in{"m", 7, blocks, 2560, 40, stamp(1000), ReportedUsage{640, 10}};
  CHECK(feedback.on_response(in) == FeedbackOutcome::kTrimmed);
  CHECK(tree->worker_blocks(7) == 0);
  CHECK(tree->worker_blocks(8) == 40);      // only the reporting worker
  REQUIRE(observer.evictions.size() == 1);  // gossiped like any eviction
  CHECK(observer.evictions[0].worker == 7);
  CHECK(observer.evictions[0].from == blocks[0]);
  CHECK(observer.evictions[0].ts == stamp(1000));  // the decision's stamp
  CHECK(feedback.bytes_per_token("m") == doctest::Approx(4.0));

  // Partial: 160 of 640 tokens -> 640 bytes -> 10 blocks kept.
  tree->insert(blocks, 7, stamp(2000));
  in.decision_ts = stamp(2000);
  in.usage.cached_tokens = 160;
  CHECK(feedback.on_response(in) == FeedbackOutcome::kTrimmed);
  CHECK(tree->worker_blocks(7) == 10);
  CHECK(observer.evictions.back().from == blocks[10]);
  CHECK(tree->check_invariants() == "");

  const std::string text = registry.render();
  CHECK(text.find("radixmesh_cache_feedback_total{outcome=\"trimmed\"} 2") != std::string::npos);
  CHECK(text.find("radixmesh_cache_prediction_error_ratio_count 2") != std::string::npos);
}

TEST_CASE("feedback: a newer insert for the worker survives a trim stamped at the decision") {
  radix::TreeCatalog trees(radix::PrefixTree::Options{}, 8, nullptr, nullptr);
  auto tree = *trees.get_or_create("m");
  CacheFeedback feedback(trees, 64, nullptr);
  const auto blocks = chain(20, 2);
  tree->insert(blocks, 3, stamp(1000));  // our decision
  tree->insert(blocks, 3, stamp(1500));  // later: another router's request re-filled it (mesh)
  FeedbackInput in{"m", 3, blocks, 1280, 20, stamp(1000), ReportedUsage{320, 0}};
  CHECK(feedback.on_response(in) == FeedbackOutcome::kTrimmed);
  CHECK(tree->worker_blocks(3) == 20);  // LWW: the eviction at 1000 loses to the insert at 1500

  // And the tombstone keeps an older insert arriving late from resurrecting it.
  radix::TreeCatalog trees2(radix::PrefixTree::Options{}, 8, nullptr, nullptr);
  auto t2 = *trees2.get_or_create("m");
  CacheFeedback fb2(trees2, 64, nullptr);
  t2->insert(blocks, 3, stamp(1000));
  CHECK(fb2.on_response(in) == FeedbackOutcome::kTrimmed);
  CHECK(t2->worker_blocks(3) == 0);
  (void)t2->apply(radix::InsertRecord{3, 0, blocks, stamp(900)});  // refused or cut
  CHECK(t2->worker_blocks(3) == 0);
}

TEST_CASE("feedback: agreement within the slack, above the tree, and no report change nothing") {
  radix::TreeCatalog trees(radix::PrefixTree::Options{}, 8, nullptr, nullptr);
  auto tree = *trees.get_or_create("m");
  CacheFeedback feedback(trees, 64, nullptr);
  const auto blocks = chain(40, 3);
  tree->insert(blocks, 1, stamp(1000));
  // 38 of 40 blocks (an engine caches whole pages): within 2 blocks.
  FeedbackInput in{"m", 1, blocks, 2560, 40, stamp(1000), ReportedUsage{640, 38 * 16}};
  CHECK(feedback.on_response(in) == FeedbackOutcome::kAgrees);
  in.usage.cached_tokens.reset();
  CHECK(feedback.on_response(in) == FeedbackOutcome::kNoCachedTokens);
  in.predicted_blocks = 0;
  in.usage.cached_tokens = 640;
  CHECK(feedback.on_response(in) == FeedbackOutcome::kAboveTree);
  CHECK(tree->worker_blocks(1) == 40);
}

TEST_CASE("capacity: a full worker's losses shrink its budget, confirmed hits grow it back") {
  radix::WorkerBudgets budgets(16, 1000);
  radix::PrefixTree::Options opts;
  opts.max_blocks_per_worker = 1000;
  opts.budgets = &budgets;
  radix::TreeCatalog trees(opts, 8, nullptr, nullptr);
  auto tree = *trees.get_or_create("m");
  CacheFeedback feedback(trees, 64, nullptr, &budgets);
  for (uint64_t c = 0; c < 10; ++c) tree->insert(chain(40, 100 + c), 1, stamp(1000 + c));
  REQUIRE(tree->worker_blocks(1) == 400);

  const auto last = chain(40, 109);
  FeedbackInput in{"m", 1, last, 2560, 40, stamp(1009), ReportedUsage{640, 0}};
  in.kv_usage = 0.5;  // the cache is not full: a flush, not capacity
  CHECK(feedback.on_response(in) == FeedbackOutcome::kTrimmed);
  CHECK(budgets.get(1) == 1000);

  tree->insert(last, 1, stamp(2000));
  in.decision_ts = stamp(2000);
  in.kv_usage = 0.97;  // full and still losing what the tree claims: capacity
  CHECK(feedback.on_response(in) == FeedbackOutcome::kTrimmed);
  CHECK(budgets.get(1) == 360);  // 0.9 x the 400 blocks the tree claimed
  // The tree enforces it on the worker's next insert (down to 90% of it).
  tree->insert(chain(40, 200), 1, stamp(3000));
  CHECK(tree->worker_blocks(1) <= 360);
  CHECK(tree->worker_blocks(1) >= 300);
  CHECK(budgets.get(2) == 1000);  // other workers untouched

  // Confirmed hits grow it by 1/32 each, up to the ceiling.
  const auto held = chain(40, 200);
  FeedbackInput hit{"m", 1, held, 2560, 40, stamp(3000), ReportedUsage{640, 640}};
  CHECK(feedback.on_response(hit) == FeedbackOutcome::kAgrees);
  CHECK(budgets.get(1) == 360 + 360 / 32);
  for (int i = 0; i < 200; ++i) feedback.on_response(hit);
  CHECK(budgets.get(1) == 1000);
  // A miss (prediction 0) that agrees proves nothing about capacity.
  budgets.set(1, 500);
  hit.predicted_blocks = 0;
  hit.usage.cached_tokens = 0;
  CHECK(feedback.on_response(hit) == FeedbackOutcome::kAgrees);
  CHECK(budgets.get(1) == 500);
}
