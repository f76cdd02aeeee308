// TreeCatalog: model name -> PrefixTree, shared by the router and the mesh.
//
// A tree is created on first use with the default options (model name
// filled in), given the observer and registered with the MemoryBroker
// (unregistered when the catalog dies). The number of models is bounded:
// get_or_create() fails with kTooLarge past max_models. Trees are never
// dropped while the catalog lives; callers hold shared_ptrs.
//
// Thread safety: all methods are thread-safe (shared_mutex; lookups shared).
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "radix/prefix_tree.h"
#include "radix/result.h"

namespace radixmesh::radix {

class MemoryBroker;

class TreeCatalog {
 public:
  TreeCatalog(PrefixTree::Options defaults, size_t max_models, MemoryBroker* broker,
              TreeObserver* observer);
  ~TreeCatalog();
  TreeCatalog(const TreeCatalog&) = delete;
  TreeCatalog& operator=(const TreeCatalog&) = delete;

  Result<std::shared_ptr<PrefixTree>> get_or_create(std::string_view model);
  std::shared_ptr<PrefixTree> find(std::string_view model) const;
  // Sorted by model name.
  std::vector<std::pair<std::string, std::shared_ptr<PrefixTree>>> all() const;
  size_t remove_worker_everywhere(WorkerId worker);
  size_t size() const;

 private:
  const PrefixTree::Options defaults_;
  const size_t max_models_;
  MemoryBroker* broker_;
  TreeObserver* observer_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<PrefixTree>> trees_;  // guarded by mu_
};

}  // namespace radixmesh::radix
