// Random: the only source of randomness a routing policy may use.
//
// Policies never call a global generator: the caller passes a Random& into
// every decision, so tests inject a seeded one and get the same decisions on
// every run, and the router gives each io thread its own generator so that no
// two threads share mutable state.
//
// Ownership and threads: a Random object is NOT thread-safe. Each thread owns
// its own instance (the router keeps one Xoshiro256 per io thread, seeded
// differently per thread); a Policy only borrows it for one choose() call.
//
// Xoshiro256 is xoshiro256** (Blackman and Vigna), 256 bits of state seeded by
// expanding a 64-bit seed with splitmix64: a few nanoseconds per draw and
// statistically far better than the tie-breaking and sampling here needs.
#pragma once

#include <cstdint>

namespace radixmesh::policies {

class Random {
 public:
  virtual ~Random() = default;
  // 64 uniformly distributed bits.
  virtual uint64_t next() = 0;

  // Uniform integer in [0, n); n == 0 returns 0. Lemire's multiply-shift:
  // one draw, bias below 2^-64 * n (irrelevant for choosing among workers).
  uint64_t uniform(uint64_t n) {
    __extension__ using u128 = unsigned __int128;  // GCC/Clang; quiet under -Wpedantic
    return static_cast<uint64_t>((static_cast<u128>(next()) * n) >> 64);
  }
};

// splitmix64's output function: a strong 64-bit mixer (also used for hashing).
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Fast per-thread generator for the router. Not thread-safe: one per thread.
class Xoshiro256 final : public Random {
 public:
  explicit Xoshiro256(uint64_t seed) {
    // splitmix64 stream expands the seed; never leaves the state all zero.
    for (auto& word : s_) {
      seed += 0x9E3779B97F4A7C15ULL;
      word = mix64(seed);
    }
  }

  uint64_t next() override {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace radixmesh::policies
