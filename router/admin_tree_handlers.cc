// Admin handlers for trees: stats, top, dump (see admin_api.h, admin_trees.h).
#include "radix/hlc.h"
#include "router/admin_api.h"
#include "router/admin_trees.h"

namespace radixmesh::router {

AdminResponse AdminApi::tree_error(const Error& e) {
  return error_response(from_error_code(e.code), e.message,
                        e.code == ErrorCode::kNotFound ? "model_not_found" : "bad_query");
}

Result<std::shared_ptr<radix::PrefixTree>> AdminApi::tree_for(const Target& t,
                                                              bool required) const {
  auto model = t.get("model");
  if (!model || model->empty()) {
    auto all = ctx_.trees->all();
    if (all.size() == 1) return all.front().second;
    if (!required) return std::shared_ptr<radix::PrefixTree>();
    return make_error(ErrorCode::kInvalidArgument,
                      all.empty() ? "no model has a tree yet"
                                  : "several models have trees: name one with ?model=");
  }
  auto tree = ctx_.trees->find(*model);
  if (!tree) return make_error(ErrorCode::kNotFound, "unknown model '" + *model + "'");
  return tree;
}

AdminResponse AdminApi::trees(const Target& t) const {
  nlohmann::json list = nlohmann::json::array();
  if (auto model = t.get("model"); model && !model->empty()) {
    auto tree = ctx_.trees->find(*model);
    if (!tree)
      return error_response(RouterErrc::kNotFound, "unknown model '" + *model + "'",
                            "model_not_found");
    list.push_back(tree_stats_json(*tree, *ctx_.directory));
  } else {
    for (const auto& [name, tree] : ctx_.trees->all()) {
      list.push_back(tree_stats_json(*tree, *ctx_.directory));
    }
  }
  return json_response({{"trees", std::move(list)}});
}

AdminResponse AdminApi::trees_top(const Target& t) const {
  auto n = query_size(t, "n", kDefaultTopN, 1, kMaxTopN);
  if (!n) return error_response(RouterErrc::kBadRequest, n.error().message, "bad_query");
  std::vector<std::shared_ptr<radix::PrefixTree>> trees;
  if (auto model = t.get("model"); model && !model->empty()) {
    auto tree = ctx_.trees->find(*model);
    if (!tree)
      return error_response(RouterErrc::kNotFound, "unknown model '" + *model + "'",
                            "model_not_found");
    trees.push_back(tree);
  } else {
    for (auto& [name, tree] : ctx_.trees->all()) trees.push_back(tree);
  }
  const uint64_t now = radix::system_physical_ms();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& tree : trees) {
    out.push_back(tree_top_json(*tree, *ctx_.directory, *n, kTopScanNodes, now));
  }
  return json_response({{"trees", std::move(out)}});
}

AdminResponse AdminApi::trees_dump(const Target& t) const {
  auto max_nodes = query_size(t, "max_nodes", kDefaultDumpNodes, 1, kMaxDumpNodes);
  if (!max_nodes)
    return error_response(RouterErrc::kBadRequest, max_nodes.error().message, "bad_query");
  auto tree = tree_for(t, /*required=*/true);
  if (!tree) {
    return tree_error(tree.error());
  }
  return json_response(tree_dump_json(**tree, *ctx_.directory, *max_nodes));
}

}  // namespace radixmesh::router
