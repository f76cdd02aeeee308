// RequestParser: request body -> (model, namespace, canonical prompt bytes).
//
// One pass over a JSON body of one of the proxied endpoints (Endpoint) with
// simdjson's DOM parser, producing the canonical prompt of
// docs/canonical-prompts.md:
//   chat        F8 [tools] message*         message = role FE content [extras] FF
//   completions prompt text verbatim (lists joined by FC) or token ids
//   /generate   `text` or `input_ids`
//   responses   `instructions` and `input`, encoded as the equivalent chat
//   embeddings  `input` like completions
// The structural bytes F8..FF never occur in valid UTF-8, so text is copied
// verbatim (no escaping) and still cannot be mistaken for structure.
// Token-id prompts are 4-byte little-endian ids in PromptNamespace::kTokenIds.
//
// Errors are values: ErrorCode::kInvalidArgument for a bad shape (not JSON,
// not an object, a field of the wrong type, invalid UTF-8, nesting deeper
// than max_depth) with a message naming the field ("messages[2].content:
// ..."), ErrorCode::kTooLarge when a ParseLimits size bound is exceeded (body,
// array length, canonical size). Never throws, never recurses deeper than max_depth, never allocates
// more than a small multiple of max_body_bytes.
//
// Ownership and threads: a RequestParser owns a reusable simdjson parser and
// scratch buffers (they grow with the bodies seen and are given back after a
// body over 1 MiB). It is not thread-safe: keep one per thread. parse()
// results own their data.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "radix/request_view.h"
#include "radix/result.h"

namespace radixmesh::radix {

class RequestParser {
 public:
  explicit RequestParser(ParseLimits limits = {});
  ~RequestParser();
  RequestParser(RequestParser&&) noexcept;
  RequestParser& operator=(RequestParser&&) noexcept;
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  Result<ParsedRequest> parse(std::string_view body, Endpoint endpoint);

  // Same, filling `out` in place so its strings' capacity is reused across
  // requests (the router's per-thread hot path). On error `out` is
  // unspecified. With body_padded the caller guarantees kPadding readable
  // bytes after the body's end (e.g. a std::string whose capacity() is at
  // least size() + kPadding); the parser then reads the body in place
  // instead of copying it into its own padded buffer.
  Status parse_into(std::string_view body, Endpoint endpoint, ParsedRequest& out,
                    bool body_padded = false);
  // Same, naming the prompt's blocks into `blocks` (cleared first) as
  // `chain` says; out.canonical stays empty, out.canonical_bytes is set.
  Status parse_into(std::string_view body, Endpoint endpoint, ParsedRequest& out, bool body_padded,
                    const ChainSpec& chain, std::vector<BlockHash>& blocks);

  // simdjson reads input in 64-byte blocks, possibly past the end.
  static constexpr size_t kPadding = 64;

  const ParseLimits& limits() const;

 private:
  Status parse(std::string_view body, Endpoint endpoint, ParsedRequest& out, bool body_padded,
               const ChainSpec* chain, std::vector<BlockHash>* blocks);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace radixmesh::radix
