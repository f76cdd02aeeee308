#include "radix/tree_catalog.h"

#include <algorithm>
#include <mutex>

#include "radix/memory_broker.h"

namespace radixmesh::radix {

TreeCatalog::TreeCatalog(PrefixTree::Options defaults, size_t max_models, MemoryBroker* broker,
                         TreeObserver* observer)
    : defaults_(std::move(defaults)),
      max_models_(max_models),
      broker_(broker),
      observer_(observer) {}

TreeCatalog::~TreeCatalog() {
  if (!broker_) return;
  std::unique_lock lock(mu_);
  for (auto& [name, tree] : trees_) broker_->remove(tree.get());
}

Result<std::shared_ptr<PrefixTree>> TreeCatalog::get_or_create(std::string_view model) {
  if (model.empty()) return make_error(ErrorCode::kInvalidArgument, "empty model name");
  {
    std::shared_lock lock(mu_);
    auto it = trees_.find(std::string(model));
    if (it != trees_.end()) return it->second;
  }
  std::unique_lock lock(mu_);
  auto it = trees_.find(std::string(model));
  if (it != trees_.end()) return it->second;
  if (trees_.size() >= max_models_) {
    return make_error(ErrorCode::kTooLarge,
                      "too many models (max " + std::to_string(max_models_) + ")");
  }
  PrefixTree::Options options = defaults_;
  options.model = std::string(model);
  auto tree = std::make_shared<PrefixTree>(std::move(options), observer_);
  trees_.emplace(std::string(model), tree);
  // The broker mutex is never held while calling back into the catalog, so
  // taking it under ours cannot deadlock.
  if (broker_) broker_->add(tree.get());
  return tree;
}

std::shared_ptr<PrefixTree> TreeCatalog::find(std::string_view model) const {
  std::shared_lock lock(mu_);
  auto it = trees_.find(std::string(model));
  return it == trees_.end() ? nullptr : it->second;
}

std::vector<std::pair<std::string, std::shared_ptr<PrefixTree>>> TreeCatalog::all() const {
  std::vector<std::pair<std::string, std::shared_ptr<PrefixTree>>> out;
  {
    std::shared_lock lock(mu_);
    out.assign(trees_.begin(), trees_.end());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

size_t TreeCatalog::remove_worker_everywhere(WorkerId worker) {
  size_t removed = 0;
  for (auto& [name, tree] : all()) removed += tree->remove_worker(worker);
  return removed;
}

size_t TreeCatalog::size() const {
  std::shared_lock lock(mu_);
  return trees_.size();
}

}  // namespace radixmesh::radix
