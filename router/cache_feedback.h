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

#include "radix/block_hash_types.h"
#include "radix/hlc.h"
#include "radix/tree_catalog.h"
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

  // `registry`: where the error histogram and outcome counters go (may be null).
  CacheFeedback(radix::TreeCatalog& trees, size_t block_bytes, MetricsRegistry* registry);

  FeedbackOutcome on_response(const FeedbackInput& in);

  // The learned average, nullopt before the first report for the model.
  std::optional<double> bytes_per_token(std::string_view model) const;

 private:
  double learn(std::string_view model, double sample);

  radix::TreeCatalog& trees_;
  const size_t block_bytes_;
  std::shared_ptr<Histogram> error_;
  std::shared_ptr<Counter> outcomes_[static_cast<size_t>(FeedbackOutcome::kCount)];
  std::shared_ptr<Counter> trimmed_blocks_;
  mutable std::mutex mu_;                           // guards ratios_
  std::unordered_map<std::string, double> ratios_;  // model -> bytes per token
};

}  // namespace radixmesh::router
