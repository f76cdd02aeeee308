// Stable 64-bit hashing for consistent_hash: the same bytes give the same
// value on every router replica, every run and every build, because every
// replica must send one session to the same worker (std::hash promises none
// of that). Eight bytes per step, little-endian loads (x86-64 and arm64).
//
// Not cryptographic: a client choosing session keys can aim at one worker,
// which the bounded-load rule then spreads.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "policies/random.h"

namespace radixmesh::policies {

inline uint64_t hash_bytes(std::string_view bytes, uint64_t seed = 0) {
  uint64_t h = mix64(seed ^ (bytes.size() * 0xC2B2AE3D27D4EB4FULL));
  const char* p = bytes.data();
  size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t chunk;
    std::memcpy(&chunk, p, 8);
    h = (h ^ chunk) * 0x9FB21C651E98DF25ULL;  // one multiply per step;
    h ^= h >> 29;                             // the final mix64 finishes it
  }
  if (n > 0) {
    uint64_t chunk = 0;
    std::memcpy(&chunk, p, n);
    h = (h ^ chunk ^ (uint64_t{n} << 56)) * 0x9FB21C651E98DF25ULL;
  }
  return mix64(h);
}

// Rendezvous (highest random weight) score of one (key, worker) pair.
inline uint64_t rendezvous_weight(uint64_t key_hash, uint64_t worker_hash) {
  return mix64(key_hash ^ (worker_hash * 0x9E3779B97F4A7C15ULL));
}

}  // namespace radixmesh::policies
