// ApiKeyStore: the data plane's key check and rate limit (--api-keys-file).
//
//   check(Authorization header, now)
//     no "Bearer KEY"        -> 401 invalid_api_key ("missing")
//     KEY not in the set     -> 401 invalid_api_key ("invalid")
//     the key's bucket empty -> 429 rate_limit_exceeded, Retry-After
//     else                   -> admitted, with the key's tenant name
//
// Reload: poll() (called by the composition root every --api-keys-poll-ms
// on the control thread) stats the file and re-reads it when its inode,
// size or modification time changed (a Kubernetes Secret update swaps a
// symlink: the inode changes). A file that does not parse keeps the
// previous set; the failure is returned for one log line and counted
// (radixmesh_api_keys_reloads_total{result="error"}). Keys kept across a
// reload keep their buckets (router/rate_limiter.h).
//
// Threads: check() from any io thread (one atomic shared_ptr load, a
// SHA-256, a map lookup, a bucket's short mutex); poll() from one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "router/api_keys.h"
#include "router/errors.h"
#include "router/rate_limiter.h"

namespace radixmesh::router {

struct ApiKeyStoreOptions {
  std::string path;
  RateLimitDefaults defaults;
  bool operator==(const ApiKeyStoreOptions&) const = default;
};

struct Access {
  bool ok = true;
  RouterErrc error = RouterErrc::kUnauthorized;  // when !ok
  std::string message;                           // when !ok; never contains the key
  unsigned retry_after_s = 0;                    // 429: seconds until a token is back
  std::string_view reason;  // "missing", "invalid", "rate_limited" (metrics label)
  std::shared_ptr<const ApiKeySet> set;  // pins `entry`
  const ApiKeyEntry* entry = nullptr;    // the key's entry when it was known
};

class ApiKeyStore {
 public:
  // Reads the file; throws std::runtime_error when it cannot be read or
  // parsed (a start-up error). members_fn: live mesh members (null: 1).
  ApiKeyStore(ApiKeyStoreOptions options, std::function<size_t()> members_fn);

  Access check(std::string_view authorization, int64_t now_ms) const;

  enum class Reload { kUnchanged, kReloaded, kFailed };
  // why: the failure, or "N keys" after a reload.
  Reload poll(std::string* why);

  std::shared_ptr<const ApiKeySet> current() const { return current_.load(); }
  uint64_t reloads_ok() const { return reloads_ok_.load(); }
  uint64_t reloads_failed() const { return reloads_failed_.load(); }
  const ApiKeyStoreOptions& options() const { return options_; }

 private:
  struct Stamp {
    uint64_t ino = 0, size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  static bool stat_file(const std::string& path, Stamp* out);
  // Reads and parses; on success publishes the set.
  Status load(const Stamp& stamp);

  const ApiKeyStoreOptions options_;
  mutable FleetSize fleet_;
  std::atomic<std::shared_ptr<const ApiKeySet>> current_;
  Stamp stamp_;  // poll()'s thread only
  std::atomic<uint64_t> reloads_ok_{0};
  std::atomic<uint64_t> reloads_failed_{0};
};

}  // namespace radixmesh::router
