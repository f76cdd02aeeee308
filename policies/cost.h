// cost: trade cache reuse against load with explicit weights.
//
//   score(w) = overlap_weight * reusable(w) - load_weight * load(w) / max_load
//
// reusable(w) = blocks of the prompt that w holds / len(blocks), in [0, 1]
// (0 without a match or for a 0-block prompt); max_load is the highest load
// among the healthy candidates (the load term is 0 when every load is 0).
// The highest score wins; ties -> least loaded -> most free budget -> random.
// Example with the defaults (1.0, 0.5): a worker holding the whole prompt at
// the highest load scores 0.5 and beats an idle worker holding none (0); one
// holding 40% at the highest load scores -0.1 and loses to it. Reuse must pay
// for the load it piles on.
//
// Thread-safe: immutable after construction.
#pragma once

#include "policies/policy.h"

namespace radixmesh::policies {

struct CostParams {
  double overlap_weight = 1.0;
  double load_weight = 0.5;
};

class CostPolicy final : public Policy {
 public:
  explicit CostPolicy(CostParams params) : p_(params) {}
  std::string_view name() const override { return "cost"; }
  bool needs_match() const override { return true; }
  Decision choose(const RequestView& request, std::span<const WorkerView> workers,
                  const radix::MatchResult* match, Random& rng) const override;

 private:
  CostParams p_;
};

}  // namespace radixmesh::policies
