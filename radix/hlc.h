// Hybrid logical clock: the timestamp of every tree entry and mesh record.
//
// An Hlc packs 48 bits of physical milliseconds above 16 bits of a logical
// counter, so plain integer comparison orders stamps. A HybridClock hands out
// stamps that are strictly increasing per clock, never run behind the
// physical clock, and move past every remote stamp it observes, so "happened
// after" on any node gives a larger stamp (the last-writer-wins rule of the
// prefix tree relies on it).
//
// Bounded drift: a remote stamp whose physical part is more than max_drift_ms
// ahead of our physical clock is not merged (a peer with a broken clock must
// not drag every node into the future); it is counted in rejected_drift().
//
// Thread safety: HybridClock is safe to call from any thread (one atomic word,
// CAS loop). The physical time source is injected (tests use a fake).
#pragma once

#include <atomic>
#include <compare>
#include <cstdint>
#include <functional>

namespace radixmesh::radix {

struct Hlc {
  uint64_t value = 0;
  auto operator<=>(const Hlc&) const = default;

  static constexpr int kLogicalBits = 16;
  static constexpr uint64_t kLogicalMask = (uint64_t{1} << kLogicalBits) - 1;
  static constexpr Hlc from_parts(uint64_t physical_ms, uint64_t logical) {
    return Hlc{(physical_ms << kLogicalBits) | (logical & kLogicalMask)};
  }
  constexpr uint64_t physical_ms() const { return value >> kLogicalBits; }
  constexpr uint64_t logical() const { return value & kLogicalMask; }
};

// Milliseconds since the Unix epoch from the system clock: the production
// physical time source.
uint64_t system_physical_ms();

class HybridClock {
 public:
  static constexpr uint64_t kDefaultMaxDriftMs = 60'000;

  explicit HybridClock(std::function<uint64_t()> physical_ms,
                       uint64_t max_drift_ms = kDefaultMaxDriftMs);

  // A stamp larger than every stamp this clock returned or observed before.
  Hlc now();
  // Merge a remote stamp; returns the new local stamp (larger than both).
  // A remote stamp beyond the drift bound is ignored (counted) and the
  // result is then just now().
  Hlc observe(Hlc remote);
  // The last stamp handed out or merged (no advance).
  Hlc peek() const { return Hlc{last_.load(std::memory_order_acquire)}; }
  uint64_t rejected_drift() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  std::function<uint64_t()> physical_ms_;
  uint64_t max_drift_ms_;
  std::atomic<uint64_t> last_{0};
  std::atomic<uint64_t> rejected_{0};
};

}  // namespace radixmesh::radix
