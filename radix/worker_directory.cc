#include "radix/worker_directory.h"

#include <xxhash.h>
#include <cctype>
#include <mutex>

namespace radixmesh::radix {

WorkerDirectory::WorkerDirectory(size_t max_workers) : max_workers_(max_workers) {}

std::string WorkerDirectory::normalise(std::string_view url) {
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.front())))
    url.remove_prefix(1);
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.back()))) url.remove_suffix(1);
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  std::string out(url);
  // Lowercase the scheme and authority (up to the first '/' after "://").
  size_t start = out.find("://");
  size_t end;
  if (start == std::string::npos) {
    end = out.find('/');
  } else {
    end = out.find('/', start + 3);
  }
  if (end == std::string::npos) end = out.size();
  for (size_t i = 0; i < end; ++i) {
    out[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[i])));
  }
  return out;
}

uint64_t WorkerDirectory::key_for_url(std::string_view url) {
  const std::string n = normalise(url);
  return XXH3_64bits(n.data(), n.size());
}

Result<WorkerId> WorkerDirectory::intern(std::string_view url) {
  std::string n = normalise(url);
  if (n.empty()) return make_error(ErrorCode::kInvalidArgument, "empty worker url");
  const uint64_t key = XXH3_64bits(n.data(), n.size());
  {
    std::shared_lock lock(mu_);
    auto it = by_key_.find(key);
    if (it != by_key_.end()) {
      if (entries_[it->second].url != n) {
        return make_error(ErrorCode::kInternal, "worker key collision: " + n);
      }
      return it->second;
    }
  }
  std::unique_lock lock(mu_);
  auto it = by_key_.find(key);  // raced with another intern of the same URL?
  if (it != by_key_.end()) {
    if (entries_[it->second].url != n) {
      return make_error(ErrorCode::kInternal, "worker key collision: " + n);
    }
    return it->second;
  }
  if (entries_.size() >= max_workers_) {
    return make_error(ErrorCode::kTooLarge, "worker directory full");
  }
  const auto id = static_cast<WorkerId>(entries_.size());
  entries_.push_back(Entry{std::move(n), key});
  by_key_.emplace(key, id);
  return id;
}

std::optional<WorkerId> WorkerDirectory::find(std::string_view url) const {
  const std::string n = normalise(url);
  const uint64_t key = XXH3_64bits(n.data(), n.size());
  std::shared_lock lock(mu_);
  auto it = by_key_.find(key);
  if (it == by_key_.end() || entries_[it->second].url != n) return std::nullopt;
  return it->second;
}

std::optional<WorkerId> WorkerDirectory::find_key(uint64_t key) const {
  std::shared_lock lock(mu_);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

std::string WorkerDirectory::url_of(WorkerId id) const {
  std::shared_lock lock(mu_);
  return id < entries_.size() ? entries_[id].url : std::string();
}

uint64_t WorkerDirectory::key_of(WorkerId id) const {
  std::shared_lock lock(mu_);
  return id < entries_.size() ? entries_[id].key : 0;
}

size_t WorkerDirectory::size() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

}  // namespace radixmesh::radix
