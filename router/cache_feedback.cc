#include "router/cache_feedback.h"

#include <algorithm>
#include <cmath>

namespace radixmesh::router {
namespace {

constexpr double kWeight = 1.0 / 8.0;  // of a new bytes-per-token sample
constexpr double kMinRatio = 0.25;     // bytes per token accepted as a sample
constexpr double kMaxRatio = 64.0;

}  // namespace

std::string_view to_string(FeedbackOutcome o) {
  switch (o) {
    case FeedbackOutcome::kNoCachedTokens:
      return "no_cached_tokens";
    case FeedbackOutcome::kAgrees:
      return "agrees";
    case FeedbackOutcome::kTrimmed:
      return "trimmed";
    case FeedbackOutcome::kAboveTree:
      return "above_tree";
    case FeedbackOutcome::kCount:
      break;
  }
  return "unknown";
}

CacheFeedback::CacheFeedback(radix::TreeCatalog& trees, size_t block_bytes,
                             MetricsRegistry* registry, radix::WorkerBudgets* budgets)
    : trees_(trees), block_bytes_(std::max<size_t>(block_bytes, 1)), budgets_(budgets) {
  if (!registry) return;
  error_ = registry
               ->histogram("radixmesh_cache_prediction_error_ratio",
                           "Per response: (blocks the tree predicted the worker held - blocks "
                           "the worker reported cached) / prompt blocks. Positive: the tree "
                           "over-claims.",
                           {}, {-1, -0.5, -0.25, -0.1, -0.02, 0.02, 0.1, 0.25, 0.5, 1})
               .with({});
  auto& family = registry->counter("radixmesh_cache_feedback_total",
                                   "Responses with a usage report, by what the reported cached "
                                   "tokens said about the tree's prediction.",
                                   {"outcome"});
  for (size_t i = 0; i < static_cast<size_t>(FeedbackOutcome::kCount); ++i) {
    outcomes_[i] = family.with({std::string(to_string(static_cast<FeedbackOutcome>(i)))});
  }
  trimmed_blocks_ = registry
                        ->counter("radixmesh_cache_feedback_trimmed_blocks_total",
                                  "Worker-blocks dropped from the trees because the worker "
                                  "reported fewer cached tokens than predicted.")
                        .with({});
}

double CacheFeedback::learn(std::string_view model, double sample) {
  std::lock_guard lock(mu_);
  auto it = ratios_.find(std::string(model));
  if (it == ratios_.end()) {
    if (ratios_.size() >= kMaxModels) return sample;  // not kept; this response still uses it
    ratios_.emplace(std::string(model), sample);
    return sample;
  }
  it->second += kWeight * (sample - it->second);
  return it->second;
}

std::optional<double> CacheFeedback::bytes_per_token(std::string_view model) const {
  std::lock_guard lock(mu_);
  auto it = ratios_.find(std::string(model));
  if (it == ratios_.end()) return std::nullopt;
  return it->second;
}

FeedbackOutcome CacheFeedback::on_response(const FeedbackInput& in) {
  auto count = [&](FeedbackOutcome o) {
    if (auto& c = outcomes_[static_cast<size_t>(o)]) c->inc();
    return o;
  };
  if (in.usage.prompt_tokens == 0 || in.canonical_bytes == 0) {
    return count(FeedbackOutcome::kNoCachedTokens);
  }
  double ratio =
      static_cast<double>(in.canonical_bytes) / static_cast<double>(in.usage.prompt_tokens);
  if (ratio >= kMinRatio && ratio <= kMaxRatio) {
    ratio = learn(in.model, ratio);
  } else if (auto known = bytes_per_token(in.model)) {
    ratio = *known;  // an odd sample (a tokenizer-free endpoint?): not learned
  } else {
    return count(FeedbackOutcome::kNoCachedTokens);
  }
  if (!in.usage.cached_tokens) return count(FeedbackOutcome::kNoCachedTokens);

  const size_t total = in.blocks.size();
  const double cached_bytes = static_cast<double>(*in.usage.cached_tokens) * ratio;
  const uint32_t reported = static_cast<uint32_t>(std::min<double>(
      std::floor(cached_bytes / static_cast<double>(block_bytes_)), static_cast<double>(total)));
  const uint32_t predicted = std::min<uint32_t>(in.predicted_blocks, static_cast<uint32_t>(total));
  if (error_ && total > 0) {
    error_->observe((static_cast<double>(predicted) - static_cast<double>(reported)) /
                    static_cast<double>(total));
  }
  const uint32_t slack = std::max<uint32_t>(2, predicted / 8);
  if (reported + slack < predicted) {
    if (auto tree = trees_.find(in.model)) {
      const size_t claimed = tree->worker_blocks(in.worker);
      const size_t removed = tree->evict(in.worker, in.blocks[reported], in.decision_ts);
      if (trimmed_blocks_) trimmed_blocks_->inc(removed);
      estimate(in, FeedbackOutcome::kTrimmed, claimed);
    }
    return count(FeedbackOutcome::kTrimmed);
  }
  if (reported > predicted + slack) return count(FeedbackOutcome::kAboveTree);
  estimate(in, FeedbackOutcome::kAgrees, 0);
  return count(FeedbackOutcome::kAgrees);
}

void CacheFeedback::estimate(const FeedbackInput& in, FeedbackOutcome outcome, size_t claimed) {
  if (!budgets_) return;
  const size_t now = budgets_->get(in.worker);
  if (outcome == FeedbackOutcome::kTrimmed) {
    if (!in.kv_usage || *in.kv_usage < kFullKv) return;  // a flush or restart, not capacity
    const auto shrunk = static_cast<size_t>(kShrink * static_cast<double>(claimed));
    budgets_->set(in.worker, std::max(kMinBudget, std::min(now, shrunk)));
  } else if (outcome == FeedbackOutcome::kAgrees && in.predicted_blocks > 0 &&
             now < budgets_->ceiling()) {
    budgets_->set(in.worker, now + std::max<size_t>(1, now / kGrowDivisor));
  }
}

}  // namespace radixmesh::router
