// CacheFeedback: the worker's reported cached tokens against the tree's
// prediction, and the correction when the tree over-claims.
//
// For every relayed response with a usage report (router/usage_tail.h):
//   1. Learn the model's bytes per token: canonical prompt bytes /
//      usage.prompt_tokens, an exponential average (weight 1/8 per sample)
//      per model. The canonical bytes include the message roles the tree
//      hashes; the token count includes the engine's chat template: their
//      ratio is what converts reported tokens into tree blocks.
//   2. With cached_tokens reported: reported_blocks = floor(cached_tokens *
//      bytes_per_token / block_bytes), capped at the prompt's blocks. The
//      prediction is Decision::matched_blocks (what the tree said the chosen
//      worker held). The error (predicted - reported) / prompt blocks goes
//      into radixmesh_cache_prediction_error_ratio.
//   3. When reported_blocks + slack < predicted (slack: 2 blocks or 1/8 of
//      the prediction, whichever is more: engines cache whole pages of 16+
//      tokens and bytes per token is an average), the worker lost what the
//      tree thinks it holds: PrefixTree::evict(worker, blocks[reported],
//      decision stamp). That is an eviction like the budget's own: it leaves
//      a tombstone and the mesh gossips it. Stamping it with the decision's
//      Hlc (not "now") makes it remove exactly what this router knew when it
//      routed, and lose against any newer insert for that worker (another
//      router's later request, which re-filled the cache).
//
// Capacity (self-calibration, with `budgets`): `--max-blocks-per-worker`
// is a ceiling; each worker's budget starts there and moves with what the
// worker says (an AIMD estimator, like TCP's window):
//   - trimmed while the worker's own KV usage is >= 0.9 (its cache is full,
//     so the loss is eviction, not a flush or a restart): the worker holds
//     less than the tree claimed for it, so its budget becomes 0.9 x the
//     blocks the tree attributed to it (never more than before, never below
//     16 blocks); the tree then evicts its LRU entries down to 90% of that
//     on its next insert, as with any budget;
//   - a predicted hit the worker confirms (agrees, prediction > 0): budget
//     grows by 1/32 of itself, up to the ceiling, so an estimate that was too
//     low recovers as long as the worker keeps confirming what it is sent.
// A trim with KV usage unknown or low changes the tree, not the budget.
//
// Threads: on_response() is safe from any thread. The per-model averages sit
// behind one mutex held only for a map lookup and update (never across I/O).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "policies/candidates.h"
#include "radix/block_hash_types.h"
#include "radix/hlc.h"
#include "radix/tree_catalog.h"
#include "radix/worker_budgets.h"
#include "router/metrics.h"
#include "router/usage_tail.h"

namespace radixmesh::router {

struct FeedbackInput {
  std::string_view model;
  radix::WorkerId worker = 0;
  std::span<const radix::BlockHash> blocks;  // the prompt's chained block hashes
  size_t canonical_bytes = 0;                // size of the canonical prompt
  uint32_t predicted_blocks = 0;             // Decision::matched_blocks
  radix::Hlc decision_ts;                    // the stamp of the decision's insert
  ReportedUsage usage;
  std::optional<double> kv_usage;  // the worker's fresh /metrics KV usage, if any
};

enum class FeedbackOutcome : uint8_t {
  kNoCachedTokens,  // usage without cached_tokens (the engine does not report it)
  kAgrees,          // reported within the slack of the prediction
  kTrimmed,         // reported less: the worker's tenancy past it was evicted
  kAboveTree,       // reported more than the tree knew (another router's traffic)
  kCount,
};
std::string_view to_string(FeedbackOutcome o);

class CacheFeedback {
 public:
  static constexpr size_t kMaxModels = 1024;  // averages kept; more models are not learned

  // `registry`: where the error histogram and outcome counters go (may be
  // null). `budgets` (may be null): the per-worker capacity estimates this
  // feedback adjusts (see "Capacity" above).
  CacheFeedback(radix::TreeCatalog& trees, size_t block_bytes, MetricsRegistry* registry,
                radix::WorkerBudgets* budgets = nullptr);

  // Capacity estimator constants.
  static constexpr double kFullKv = policies::kFullKvUsage;  // losses then mean eviction
  static constexpr double kShrink = 0.9;      // new budget = kShrink * what the tree claimed
  static constexpr size_t kGrowDivisor = 32;  // a confirmed hit adds budget / 32
  static constexpr size_t kMinBudget = 16;    // blocks: never estimate below this

  FeedbackOutcome on_response(const FeedbackInput& in);

  // The learned average, nullopt before the first report for the model.
  std::optional<double> bytes_per_token(std::string_view model) const;

 private:
  double learn(std::string_view model, double sample);

  void estimate(const FeedbackInput& in, FeedbackOutcome outcome, size_t claimed);

  radix::TreeCatalog& trees_;
  const size_t block_bytes_;
  radix::WorkerBudgets* budgets_;
  std::shared_ptr<Histogram> error_;
  std::shared_ptr<Counter> outcomes_[static_cast<size_t>(FeedbackOutcome::kCount)];
  std::shared_ptr<Counter> trimmed_blocks_;
  mutable std::mutex mu_;                           // guards ratios_
  std::unordered_map<std::string, double> ratios_;  // model -> bytes per token
};

}  // namespace radixmesh::router
