#include "router/worker_registry.h"

#include <algorithm>
#include <set>

namespace radixmesh::router {

bool RegistrySnapshot::candidates(std::string_view model, std::vector<Worker*>& out) const {
  bool any = false;
  if (auto it = by_model.find(model); it != by_model.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    any = true;
  }
  if (!wildcard.empty()) {
    out.insert(out.end(), wildcard.begin(), wildcard.end());
    any = true;
  }
  return any;
}

std::vector<std::string> RegistrySnapshot::models() const {
  std::vector<std::string> names;
  names.reserve(by_model.size());
  for (const auto& [name, workers] : by_model) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

WorkerRegistry::WorkerRegistry(Options options, InternFn intern)
    : options_(options), intern_(std::move(intern)) {
  snapshot_ = std::make_shared<RegistrySnapshot>();
}

Result<std::shared_ptr<Worker>> WorkerRegistry::add(std::string_view url) {
  auto address = parse_worker_url(url);
  if (!address.ok()) return address.error();
  std::shared_ptr<Worker> added;
  {
    std::lock_guard lock(mu_);
    for (auto& e : entries_) {
      if (e.worker->url() == address->url) {
        e.worker->set_draining(false);
        return e.worker;
      }
    }
    if (entries_.size() >= options_.max_workers) {
      return make_error(ErrorCode::kTooLarge,
                        "too many workers (max " + std::to_string(options_.max_workers) + ")");
    }
    auto id = intern_(address->url);
    if (!id.ok()) return id.error();
    added = std::make_shared<Worker>(*id, std::move(address).value(), options_.breaker);
    entries_.push_back(Entry{added, false, {}});
    publish_locked();
  }
  if (on_added_) on_added_(added);
  return added;
}

Status WorkerRegistry::remove(std::string_view url) {
  auto address = parse_worker_url(url);
  const std::string key = address.ok() ? address->url : std::string(url);
  std::shared_ptr<Worker> removed;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& e) { return e.worker->url() == key; });
    if (it == entries_.end()) {
      return make_error(ErrorCode::kNotFound, "worker " + key + " is not registered");
    }
    removed = it->worker;
    removed->mark_removed();
    entries_.erase(it);
    publish_locked();
  }
  if (on_removed_) on_removed_(removed);
  return Ok{};
}

Status WorkerRegistry::drain(std::string_view url, bool draining) {
  auto w = find(url);
  if (!w) {
    return make_error(ErrorCode::kNotFound, "worker " + std::string(url) + " is not registered");
  }
  w->set_draining(draining);
  return Ok{};
}

void WorkerRegistry::set_models(const std::shared_ptr<Worker>& worker,
                                std::vector<std::string> models) {
  std::sort(models.begin(), models.end());
  models.erase(std::unique(models.begin(), models.end()), models.end());
  std::lock_guard lock(mu_);
  for (auto& e : entries_) {
    if (e.worker != worker) continue;
    if (e.models_known && e.models == models) return;
    e.models_known = true;
    e.models = std::move(models);
    publish_locked();
    return;
  }
}

void WorkerRegistry::clear_models(const std::shared_ptr<Worker>& worker) {
  std::lock_guard lock(mu_);
  for (auto& e : entries_) {
    if (e.worker != worker || !e.models_known) continue;
    e.models_known = false;
    e.models.clear();
    publish_locked();
    return;
  }
}

std::shared_ptr<const RegistrySnapshot> WorkerRegistry::snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

std::shared_ptr<Worker> WorkerRegistry::find(std::string_view url) const {
  auto address = parse_worker_url(url);
  const std::string key = address.ok() ? address->url : std::string(url);
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e.worker->url() == key) return e.worker;
  }
  return nullptr;
}

WorkerRegistry::ModelList WorkerRegistry::models_of(const Worker& worker) const {
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e.worker.get() == &worker) return ModelList{e.models_known, e.models};
  }
  return {};
}

size_t WorkerRegistry::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void WorkerRegistry::publish_locked() {
  auto s = std::make_shared<RegistrySnapshot>();
  s->version = ++version_;
  s->all.reserve(entries_.size());
  for (const auto& e : entries_) {
    s->all.push_back(e.worker);
    if (!e.models_known) {
      s->wildcard.push_back(e.worker.get());
      continue;
    }
    for (const auto& m : e.models) s->by_model[m].push_back(e.worker.get());
  }
  snapshot_ = std::move(s);
}

}  // namespace radixmesh::router
