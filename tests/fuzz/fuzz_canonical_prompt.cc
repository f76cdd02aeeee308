// Fuzz target: canonical prompt extraction (radix/canonical_prompt.h) from
// arbitrary request bodies, for every endpoint.
//
// The first byte picks the endpoint and whether tight ParseLimits apply (so
// the depth, array and size bounds are reached); the rest is the body.
// Checked: no crash; a body that parses gives the same result when parsed
// again by the same parser (no state leaks between requests), by a fresh
// parser, and through parse_into with the body padded in place; the
// canonical bytes respect max_canonical_bytes; and they hash to exactly
// size / 64 blocks.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "radix/block_hash.h"
#include "radix/canonical_prompt.h"
#include "tests/fuzz/fuzz_input.h"

using namespace radixmesh::radix;
using radixmesh::fuzz::fuzz_check;
using radixmesh::fuzz::FuzzInput;

namespace {

bool same(const ParsedRequest& a, const ParsedRequest& b) {
  return a.model == b.model && a.ns == b.ns && a.canonical == b.canonical && a.stream == b.stream &&
         a.user == b.user && a.prompt_chars == b.prompt_chars;
}

ParseLimits limits_for(bool tight) {
  ParseLimits l;
  if (tight) {
    l.max_body_bytes = 4096;
    l.max_depth = 6;
    l.max_array_items = 8;
    l.max_canonical_bytes = 256;
  }
  return l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const uint8_t sel = in.u8();
  const auto endpoint = static_cast<Endpoint>(sel % 5);
  const bool tight = (sel >> 3) & 1;
  const std::string body(in.rest());

  static RequestParser loose_parser(limits_for(false));
  static RequestParser tight_parser(limits_for(true));
  RequestParser& parser = tight ? tight_parser : loose_parser;

  auto first = parser.parse(body, endpoint);
  auto again = parser.parse(body, endpoint);
  fuzz_check(first.ok() == again.ok(), "same verdict twice");
  {
    ParsedRequest chained;
    std::vector<BlockHash> named;
    const radixmesh::Status st =
        parser.parse_into(body, endpoint, chained, false, ChainSpec{0, "m", 64}, named);
    fuzz_check(st.ok() == first.ok(), "chain mode gives the same verdict");
    fuzz_check(st.ok() || st.error().code == first.error().code, "and the same error code");
  }
  if (!first.ok()) return 0;
  fuzz_check(same(first.value(), again.value()), "same result twice");
  fuzz_check(first.value().canonical.size() <= parser.limits().max_canonical_bytes,
             "canonical bound");

  RequestParser fresh(limits_for(tight));
  auto third = fresh.parse(body, endpoint);
  fuzz_check(third.ok() && same(first.value(), third.value()), "fresh parser agrees");

  std::string padded = body;
  padded.reserve(body.size() + RequestParser::kPadding);
  ParsedRequest out;
  fuzz_check(parser.parse_into(padded, endpoint, out, true).ok(), "padded parse succeeds");
  fuzz_check(same(first.value(), out), "padded parse agrees");

  std::vector<BlockHash> hashes;
  hash_blocks(first.value().canonical, chain_seed(0, first.value().model, first.value().ns),
              kDefaultBlockBytes, hashes);
  fuzz_check(hashes.size() == first.value().canonical.size() / kDefaultBlockBytes,
             "one hash per whole block");

  // Chain mode (the router's): the same names without the canonical copy,
  // for the default block size and an odd one that splits every piece.
  for (size_t block : {kDefaultBlockBytes, size_t{7}}) {
    const ChainSpec spec{0, "fuzz-default-model", block};
    ParsedRequest chained;
    std::vector<BlockHash> named;
    fuzz_check(parser.parse_into(body, endpoint, chained, false, spec, named).ok(),
               "chain-mode parse succeeds");
    const std::string& model =
        first.value().model.empty() ? std::string("fuzz-default-model") : first.value().model;
    std::vector<BlockHash> expected;
    hash_blocks(first.value().canonical, chain_seed(0, model, first.value().ns), block, expected);
    fuzz_check(named == expected, "chain mode names blocks as hash_blocks does");
    fuzz_check(chained.canonical_bytes == first.value().canonical.size(),
               "chain mode counts the canonical bytes");
    fuzz_check(chained.prompt_chars == first.value().prompt_chars && chained.ns == first.value().ns,
               "chain mode agrees on the rest");
  }
  return 0;
}
