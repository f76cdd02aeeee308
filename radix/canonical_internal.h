// Internal to radix/canonical_*.cc: the encoder that writes canonical prompt
// bytes, and the per-endpoint encoders. Includes simdjson; never include it
// from a public header (radix/canonical_prompt.h keeps simdjson out).
//
// The byte grammar is specified in docs/canonical-prompts.md. Structural bytes
// are 0xF8..0xFF, which never occur in valid UTF-8 (simdjson validates every
// input), so text is copied verbatim and can never forge structure.
//
// Threads: an Encoder lives for one parse() on one thread.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "radix/block_hash.h"
#include "radix/request_view.h"
#include "radix/result.h"

namespace radixmesh::radix::canon {

namespace dom = simdjson::dom;

inline constexpr char kChat = '\xF8';   // first byte of every chat-shaped prompt
inline constexpr char kTools = '\xF9';  // opens the tools section
inline constexpr char kField = '\xFA';  // opens a named extra field of a message
inline constexpr char kValue = '\xFB';  // separates a name from its value
inline constexpr char kPart = '\xFC';   // separates content parts / list items
inline constexpr char kBlob = '\xFD';   // opens a hashed non-text part
inline constexpr char kRole = '\xFE';   // ends the role of a message
inline constexpr char kEnd = '\xFF';    // ends a message or section

// Token-id lists in a batch are separated by this id; real ids are below it.
inline constexpr uint32_t kTokenListSeparator = 0xFFFFFFFFu;

#define CANON_TRY(expr)               \
  do {                                \
    ::radixmesh::Status st_ = (expr); \
    if (!st_.ok()) return st_;        \
  } while (0)

// Typed views of an element whose type the caller has already checked.
template <typename T>
T as(dom::element v) {
  T x{};
  if (v.get(x) != simdjson::SUCCESS) return T{};
  return x;
}

Error invalid(std::string field, std::string_view what);
Error too_large(std::string field, std::string_view what);
std::string index_path(std::string_view base, size_t i);  // "base[i]"

// Where an item sits ("messages[3]"), rendered only when an error needs it.
struct Where {
  std::string_view list;
  size_t i;
  std::string str() const { return index_path(list, i); }
};

// Where an Encoder in chain mode sends its bytes: `chain`, started at the
// first flush with chain_seed(salt, model, *ns) (ns is final by then: the
// endpoint encoders set it before producing any byte).
struct ChainTarget {
  BlockChain* chain = nullptr;
  std::vector<BlockHash>* blocks = nullptr;
  uint64_t salt = 0;
  std::string_view model;
  const PromptNamespace* ns = nullptr;
  size_t block_bytes = 0;
};

// Appends canonical bytes to `out`, never past limits.max_canonical_bytes.
// In chain mode (a ChainTarget) `out` only gathers small pieces: they and
// every long piece go to the BlockChain, so long text is hashed where it
// lies and never copied. Call finish() after the last byte.
class Encoder {
 public:
  Encoder(const ParseLimits& limits, std::string& out, std::string& scratch,
          const ChainTarget* target = nullptr)
      : limits_(limits), out_(out), scratch_(scratch), target_(target) {}

  Status put(std::string_view s) {
    if (s.size() > limits_.max_canonical_bytes - size()) return over();
    if (target_ && s.size() >= kDirectBytes) {
      flush();
      target_->chain->append(s);
    } else {
      out_.append(s);
    }
    return Ok{};
  }
  // Bytes produced so far.
  size_t size() const { return out_.size() + (started_ ? target_->chain->bytes() : 0); }
  // Chain mode: hands the gathered bytes to the chain. No-op otherwise.
  void finish() { flush(); }
  Status put(char c) { return put(std::string_view(&c, 1)); }
  // Prompt text: copied verbatim and counted in prompt_chars.
  Status text(std::string_view s) {
    chars_ += s.size();
    return put(s);
  }
  // A 4-byte little-endian token id (kTokenIds namespace).
  Status token(uint32_t id);
  // The canonical JSON text of `v` (minified, key order kept, fixed number
  // and string formatting).
  Status json(dom::element v);
  // A non-text content part: kBlob type kValue <16 hex digits of the XXH3-64
  // of the part's canonical JSON>.
  Status blob(std::string_view type, dom::element part);
  // Arrays the encoders walk are bounded by limits.max_array_items:
  // `if (!e.fits(a)) return e.too_many(path);` (the path is only built on error).
  bool fits(dom::array a) const {
    // dom::array::size() saturates at 0xFFFFFF, far above any sane limit.
    return a.size() <= limits_.max_array_items;
  }
  Error too_many(std::string field) const;

  const ParseLimits& limits() const { return limits_; }
  size_t chars() const { return chars_; }
  void add_chars(size_t n) { chars_ += n; }

 private:
  Error over() const;
  bool write_json(dom::element v, std::string& to) const;

  void flush();

  // Pieces at least this long skip `out` in chain mode.
  static constexpr size_t kDirectBytes = 4096;

  const ParseLimits& limits_;
  std::string& out_;
  std::string& scratch_;
  const ChainTarget* target_;
  bool started_ = false;
  size_t chars_ = 0;
};

// The body's top-level fields, one pass, last occurrence wins (as in the
// Python JSON parsers the workers run).
struct TopFields {
  dom::element model, messages, tools, functions, stream, user, prompt, input, text, input_ids,
      instructions;
  bool has_model = false, has_messages = false, has_tools = false, has_functions = false,
       has_stream = false, has_user = false, has_prompt = false, has_input = false,
       has_text = false, has_input_ids = false, has_instructions = false,
       has_stream_options = false;
};

// Per-endpoint encoders (canonical_chat.cc, canonical_text.cc).
Status encode_chat(const TopFields& f, Encoder& e);
Status encode_responses(const TopFields& f, Encoder& e);
// completions `prompt`, embeddings `input`, /generate `text`: string, list of
// strings, token ids, or list of token-id lists. Sets `ns`.
Status encode_prompt(dom::element v, const char* field, Encoder& e, PromptNamespace& ns);

}  // namespace radixmesh::radix::canon
