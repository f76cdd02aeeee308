// API keys (--api-keys-file): who may use the data plane, and each key's
// tenant name and rate limit.
//
// File format, one key per line:
//
//   # comment (a '#' starts a comment anywhere on a line)
//   sk-team-a-0123456789  name=team-a rps=20 burst=40
//   sk-batch-abcdefghij   name=batch  rps=0          (rps=0: no limit)
//   sk-plain-key-xyz                                  (tenant "default")
//
//   key       8..256 printable ASCII characters, no space, no '#'
//   name=     tenant name for metrics and logs: [A-Za-z0-9._-]{1,64}
//   rps=      sustained requests per second (decimal, >= 0)
//   burst=    bucket size (decimal, >= 1)
//   an attribute left out takes --rate-limit-rps / --rate-limit-burst
//
// A file with any malformed line (unknown attribute, bad number, duplicate
// key, key too short) is rejected as a whole with the line number; the
// reloader then keeps the previous set (a half-applied file would lock out
// or open up keys by accident). Bounded: kMaxFileBytes, kMaxKeys.
//
// Secrecy: a key is kept only as its SHA-256; lookup is by that digest in a
// hash map and the match is confirmed with CRYPTO_memcmp, so the time taken
// depends on the digest (which an attacker cannot steer towards a valid
// key), not on how many leading characters of a real key were guessed. Keys
// are never logged, exported, or echoed in errors; metrics use the tenant.
//
// Threads: ApiKeySet is immutable once published (after carry_buckets_from);
// share it freely.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "radix/result.h"
#include "router/rate_limiter.h"

namespace radixmesh::router {

using KeyDigest = std::array<uint8_t, 32>;  // SHA-256

KeyDigest digest_key(std::string_view key);

struct ApiKeyEntry {
  KeyDigest digest{};
  std::string tenant = "default";
  std::optional<double> rps;    // unset: the --rate-limit-rps default
  std::optional<double> burst;  // unset: the --rate-limit-burst default
  size_t line = 0;              // where it was declared (for messages; never the key)
  // Its rate-limit state (internally synchronised); set by carry_buckets_from.
  std::shared_ptr<TokenBucket> bucket;
};

class ApiKeySet {
 public:
  static constexpr size_t kMaxFileBytes = 4 << 20;
  static constexpr size_t kMaxKeys = 100000;
  static constexpr size_t kMinKeyChars = 8;
  static constexpr size_t kMaxKeyChars = 256;

  // Errors: kInvalidArgument, message "line N: why" (never quoting the key).
  static Result<ApiKeySet> parse(std::string_view text);

  // The entry for a presented key, or null.
  const ApiKeyEntry* find(std::string_view presented) const;
  const ApiKeyEntry* find_digest(const KeyDigest& d) const;
  const std::vector<ApiKeyEntry>& entries() const { return entries_; }
  // Gives every key the bucket it had in `previous` (a reload keeps its
  // rate-limit state), or a new one. previous may be null.
  void carry_buckets_from(const ApiKeySet* previous);
  size_t size() const { return entries_.size(); }

 private:
  struct DigestHash {
    size_t operator()(const KeyDigest& d) const;
  };
  std::vector<ApiKeyEntry> entries_;
  std::unordered_map<KeyDigest, size_t, DigestHash> by_digest_;
};

// The key of an "Authorization: Bearer KEY" value (scheme case-insensitive,
// surrounding blanks ignored), or empty when the value is not that shape.
std::string_view bearer_token(std::string_view authorization);

}  // namespace radixmesh::router
