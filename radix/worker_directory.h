// WorkerDirectory: worker URL <-> dense WorkerId, and the stable worker key.
//
// Trees store a 32-bit WorkerId per tenant (small, dense, process-local).
// Anything that leaves the process (mesh records, snapshots, digests) uses
// key_of(id): XXH3-64 of the normalised URL, identical on every node, so a
// peer can map it back with find_key() or by interning the URL it came with.
//
// Normalisation: surrounding whitespace trimmed, scheme and host lowercased,
// trailing '/' removed ("HTTP://Gpu-1:8000/" == "http://gpu-1:8000").
//
// Ids are handed out densely from 0 and never reused (a removed worker keeps
// its id; re-adding the same URL returns the same id). The directory is
// bounded: intern() fails with kTooLarge once max_workers ids exist.
//
// Thread safety: every method may be called from any thread (shared_mutex;
// lookups take it shared).
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "radix/block_hash_types.h"
#include "radix/result.h"

namespace radixmesh::radix {

class WorkerDirectory {
 public:
  explicit WorkerDirectory(size_t max_workers = 65536);

  // The existing id for this URL or a new one. kInvalidArgument for an empty
  // URL, kTooLarge when full, kInternal on a key collision (two URLs with the
  // same 64-bit key: astronomically unlikely, refused rather than merged).
  Result<WorkerId> intern(std::string_view url);
  std::optional<WorkerId> find(std::string_view url) const;
  std::optional<WorkerId> find_key(uint64_t key) const;
  // url_of/key_of of an unknown id: "" / 0.
  std::string url_of(WorkerId id) const;
  uint64_t key_of(WorkerId id) const;
  size_t size() const;
  size_t max_workers() const { return max_workers_; }

  static std::string normalise(std::string_view url);
  static uint64_t key_for_url(std::string_view url);  // key of normalise(url)

 private:
  struct Entry {
    std::string url;
    uint64_t key;
  };
  const size_t max_workers_;
  mutable std::shared_mutex mu_;
  std::vector<Entry> entries_;                     // guarded by mu_; index = WorkerId
  std::unordered_map<uint64_t, WorkerId> by_key_;  // guarded by mu_
};

}  // namespace radixmesh::radix
