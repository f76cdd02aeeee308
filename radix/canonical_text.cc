// Raw prompts: completions `prompt`, embeddings `input`, /generate `text` and
// `input_ids`.
//
//   string                 -> the text verbatim                    (kText)
//   ["a", "b", ...]        -> a kPart b kPart ...                  (kText)
//   [1, 2, 3]              -> 4-byte little-endian ids             (kTokenIds)
//   [[1, 2], [3]]          -> ids, lists separated by 0xFFFFFFFF   (kTokenIds)
//
// A list of prompts is a batch the router sends to one worker as a whole, so
// the whole list is kept (joined by kPart, which no text contains) rather
// than only the first element: the first prompt stays a prefix (a later
// request sharing it matches), a repeated batch matches in full, and
// ["ab"] and ["a", "b"] stay distinct. A one-element list equals the string.
#include <cstdint>

#include "radix/canonical_internal.h"

namespace radixmesh::radix::canon {
namespace {

using simdjson::SUCCESS;

constexpr std::string_view kShape =
    "must be a string, an array of strings, an array of token ids, or an array of "
    "token-id arrays";

// Token ids are non-negative integers below kTokenListSeparator.
Status encode_ids(dom::array ids, const std::string& field, Encoder& e) {
  if (!e.fits(ids)) return e.too_many(field);
  size_t j = 0;
  for (dom::element id : ids) {
    uint64_t v = 0;
    if (id.get(v) != SUCCESS || v >= kTokenListSeparator) {
      return invalid(index_path(field, j), "must be a token id (an integer in [0, 2^32-2])");
    }
    CANON_TRY(e.token(static_cast<uint32_t>(v)));
    ++j;
  }
  e.add_chars(4 * j);  // about 4 characters per token, for load estimates
  return Ok{};
}

}  // namespace

Status encode_prompt(dom::element v, const char* field, Encoder& e, PromptNamespace& ns) {
  ns = PromptNamespace::kText;
  if (v.is_string()) return e.text(as<std::string_view>(v));
  dom::array list;
  if (v.get(list) != SUCCESS) return invalid(field, kShape);
  if (!e.fits(list)) return e.too_many(field);
  if (list.size() == 0) return Ok{};
  // The first element decides the shape; every element must match it.
  const dom::element_type first = (*list.begin()).type();
  if (first == dom::element_type::STRING) {
    size_t j = 0;
    for (dom::element s : list) {
      std::string_view text;
      if (s.get(text) != SUCCESS) return invalid(index_path(field, j), "must be a string");
      if (j > 0) CANON_TRY(e.put(kPart));
      CANON_TRY(e.text(text));
      ++j;
    }
    return Ok{};
  }
  ns = PromptNamespace::kTokenIds;
  if (first == dom::element_type::ARRAY) {
    size_t j = 0;
    for (dom::element sub : list) {
      dom::array ids;
      const std::string path = index_path(field, j);
      if (sub.get(ids) != SUCCESS) return invalid(path, "must be an array of token ids");
      if (j > 0) CANON_TRY(e.token(kTokenListSeparator));
      CANON_TRY(encode_ids(ids, path, e));
      ++j;
    }
    return Ok{};
  }
  if (first == dom::element_type::INT64 || first == dom::element_type::UINT64) {
    return encode_ids(list, field, e);
  }
  return invalid(field, kShape);
}

}  // namespace radixmesh::radix::canon
