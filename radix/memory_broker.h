// MemoryBroker: the process-wide byte budget over every MemoryPool.
//
// Pools (prefix trees, mesh buffers) register with add() and leave with
// remove(). tick(), called periodically (the router does it), sums bytes()
// over the pools and computes pressure = sum / budget:
//
//   normal  < 0.6 <= warning < 0.8 <= high < 0.95 <= critical
//
//   normal, warning  no action (warning only counts and is visible).
//   high             relieve the single worst pool, the one furthest above
//                    its fair share (budget / relievable pools), by the
//                    excess over the 0.6 mark, but not below 0.6 x its fair
//                    share.
//   critical         relieve every pool above its fair share down to
//                    0.6 x its fair share.
//
// Pools that are not relievable() (in-flight request bodies) count in the
// sum, so they raise the pressure the relievable pools answer, but are
// never relieved and take no fair share.
//
// Counters: ticks, entries into each tier, relieve calls and bytes relieved.
//
// Thread safety: all methods are thread-safe. tick() holds the broker mutex
// while it calls bytes()/relieve() on pools, so remove() waits for a running
// tick to finish: a pool is never called after remove() returned. Pools must
// therefore never call into the broker from relieve() or while holding a
// lock relieve() needs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "radix/memory_pool.h"

namespace radixmesh::radix {

enum class PressureTier { kNormal = 0, kWarning = 1, kHigh = 2, kCritical = 3 };
const char* to_string(PressureTier tier);
PressureTier tier_for(double pressure);

struct BrokerStats {
  size_t budget_bytes = 0;
  size_t used_bytes = 0;  // at the last tick
  double pressure = 0;    // at the last tick
  PressureTier tier = PressureTier::kNormal;
  uint64_t ticks = 0;
  std::array<uint64_t, 4> tier_entries{};  // transitions into each tier
  uint64_t relieve_calls = 0;
  uint64_t bytes_relieved = 0;
  std::vector<std::pair<std::string, size_t>> pools;  // name, bytes at the last tick
};

class MemoryBroker {
 public:
  static constexpr double kWarning = 0.6;
  static constexpr double kHigh = 0.8;
  static constexpr double kCritical = 0.95;

  explicit MemoryBroker(size_t budget_bytes);

  void add(MemoryPool* pool);
  void remove(MemoryPool* pool);
  // One pressure evaluation and (per tier) relief. Returns the tier seen
  // before relieving.
  PressureTier tick();
  BrokerStats stats() const;
  size_t budget_bytes() const { return budget_; }

 private:
  const size_t budget_;
  mutable std::mutex mu_;
  std::vector<MemoryPool*> pools_;  // guarded by mu_
  BrokerStats stats_;               // guarded by mu_
};

}  // namespace radixmesh::radix
