// ReloadingContext: the server ssl::context of a PEM pair on disk, rebuilt
// when the files change (a Kubernetes Secret rotates by swapping a symlink;
// cert-manager renews in place) or on demand (SIGHUP).
//
// current() hands out the context for a NEW connection; connections keep the
// context they started with (shared_ptr), so a swap never disturbs them.
// poll() compares each file's fingerprint (device, inode, size, mtime, read
// through symlinks) with the one last loaded and rebuilds the context when
// either changed (or when forced). A pair that fails to load (half-written,
// mismatched key, unreadable) leaves the old context serving; its
// fingerprint is remembered, so the same bad pair is reported once and the
// next change is tried again.
//
// Threads: current() from any thread (a mutex held for a pointer copy);
// poll() from one thread at a time (it reads the files: a few KB, bounded by
// kMaxPemBytes).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "radix/result.h"
#include "router/tls_context.h"

namespace radixmesh::tls {

// What identifies a file's contents cheaply: stat() through symlinks.
struct FileStamp {
  bool exists = false;
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
FileStamp stamp_file(const std::string& path);

class ReloadingContext {
 public:
  struct Options {
    std::string cert_file;
    std::string key_file;
    std::vector<std::string> alpn = {"http/1.1"};
  };
  // Loads the pair now; an error here is a start-up error.
  static Result<std::unique_ptr<ReloadingContext>> create(Options options);

  std::shared_ptr<ssl::context> current() const;

  enum class Outcome { kUnchanged, kReloaded, kFailed };
  // Rebuilds the context when the files changed, or always with force.
  // `why` gets a one-line description for the log (what changed, what failed).
  Outcome poll(bool force, std::string* why);

  // Successful loads so far, the first included.
  uint64_t generation() const;

 private:
  explicit ReloadingContext(Options options) : options_(std::move(options)) {}

  const Options options_;
  FileStamp cert_stamp_, key_stamp_;  // poll() thread only
  mutable std::mutex mu_;
  std::shared_ptr<ssl::context> context_;  // guarded by mu_
  uint64_t generation_ = 0;                // guarded by mu_
};

}  // namespace radixmesh::tls
