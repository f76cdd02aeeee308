#include "router/usage_tail.h"

#include <string.h>

#include <algorithm>

#include <simdjson.h>

namespace radixmesh::router {
namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The last occurrence of `key` (a quoted key, at least 2 bytes) in
// text[0, end): memrchr for its second byte, then a compare, rather than
// string_view::rfind's compare at every position (the tail is 4 KiB of a
// stream; this runs on every response).
size_t rfind_key(std::string_view text, std::string_view key, size_t end) {
  const char second = key[1];
  size_t limit = std::min(end, text.size());  // candidates' second byte lies below this
  while (limit > 1) {
    const void* hit = memrchr(text.data() + 1, second, limit - 1);
    if (hit == nullptr) return std::string_view::npos;
    const size_t k = static_cast<size_t>(static_cast<const char*>(hit) - text.data()) - 1;
    if (k + key.size() <= end && text.compare(k, key.size(), key) == 0) return k;
    limit = k + 1;
  }
  return std::string_view::npos;
}

// Position of the '{' that opens the value of the last `"key":` in text
// whose object is complete; end of that object in *close. npos if none.
size_t last_object_of(std::string_view text, std::string_view quoted_key, size_t* close) {
  size_t search_end = text.size();
  while (search_end > 0) {
    const size_t k = rfind_key(text, quoted_key, search_end - 1 + quoted_key.size());
    if (k == std::string_view::npos) return std::string_view::npos;
    search_end = k;
    if (k > 0 && text[k - 1] == '\\') continue;  // inside a string
    size_t i = k + quoted_key.size();
    while (i < text.size() && is_ws(text[i])) ++i;
    if (i >= text.size() || text[i] != ':') continue;
    ++i;
    while (i < text.size() && is_ws(text[i])) ++i;
    if (i >= text.size() || text[i] != '{') continue;
    // Brace-match, skipping strings.
    int depth = 0;
    bool in_string = false;
    for (size_t j = i; j < text.size(); ++j) {
      const char c = text[j];
      if (in_string) {
        if (c == '\\') {
          ++j;
        } else if (c == '"') {
          in_string = false;
        }
        continue;
      }
      if (c == '"') {
        in_string = true;
      } else if (c == '{') {
        ++depth;
      } else if (c == '}' && --depth == 0) {
        *close = j;
        return i;
      }
    }
    // Incomplete in the tail: an earlier occurrence cannot be the last one
    // either, so there is nothing to report.
    return std::string_view::npos;
  }
  return std::string_view::npos;
}

// A non-negative integer member's value; nullopt for anything else.
std::optional<uint64_t> uint_value(simdjson::ondemand::value v) {
  int64_t n = 0;
  if (v.get_int64().get(n) || n < 0) return std::nullopt;
  return static_cast<uint64_t>(n);
}

// The cached_tokens member of a details object (last one wins).
std::optional<uint64_t> cached_of(simdjson::ondemand::value v) {
  simdjson::ondemand::object o;
  if (v.get_object().get(o)) return std::nullopt;
  std::optional<uint64_t> cached;
  for (auto field : o) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return std::nullopt;
    if (key == "cached_tokens") cached = uint_value(field.value());
  }
  return cached;
}

// The usage (or meta_info) object `text`, read with simdjson's on-demand
// parser: no allocation once this thread's parser and buffer have grown
// (one response at a time per io thread; they are scratch, not state).
std::optional<ReportedUsage> parse_usage(std::string_view text, bool sglang) {
  thread_local simdjson::ondemand::parser parser;
  thread_local std::string padded;
  padded.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  padded.assign(text);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded.data(), padded.size(), padded.capacity()).get(doc)) {
    return std::nullopt;
  }
  simdjson::ondemand::object o;
  if (doc.get_object().get(o)) return std::nullopt;
  // The last of each member counts, as for any JSON reader keeping one.
  std::optional<uint64_t> prompt, input, cached, prompt_cached, input_cached;
  for (auto field : o) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return std::nullopt;
    if (key == "prompt_tokens") {
      prompt = uint_value(field.value());
    } else if (sglang && key == "cached_tokens") {
      cached = uint_value(field.value());
    } else if (!sglang && key == "input_tokens") {
      input = uint_value(field.value());
    } else if (!sglang && key == "prompt_tokens_details") {
      prompt_cached = cached_of(field.value());
    } else if (!sglang && key == "input_tokens_details") {
      input_cached = cached_of(field.value());
    }
  }
  ReportedUsage u;
  if (sglang) {
    if (!prompt) return std::nullopt;
    u.prompt_tokens = *prompt;
    u.cached_tokens = cached;
    return u;
  }
  if (prompt) {
    u.prompt_tokens = *prompt;
    u.cached_tokens = prompt_cached;
  } else if (input) {  // Responses API
    u.prompt_tokens = *input;
    u.cached_tokens = input_cached;
  } else {
    return std::nullopt;
  }
  return u;
}

}  // namespace

std::optional<ReportedUsage> find_reported_usage(std::string_view text) {
  size_t usage_close = 0, meta_close = 0;
  const size_t usage = last_object_of(text, "\"usage\"", &usage_close);
  const size_t meta = last_object_of(text, "\"meta_info\"", &meta_close);
  // The later of the two is the final report.
  const bool use_meta =
      meta != std::string_view::npos && (usage == std::string_view::npos || meta > usage);
  const size_t open = use_meta ? meta : usage;
  if (open == std::string_view::npos) return std::nullopt;
  const size_t close = use_meta ? meta_close : usage_close;
  return parse_usage(text.substr(open, close - open + 1), use_meta);
}

void UsageTail::feed(const char* data, size_t n) {
  if (!enabled_ || n == 0) return;
  if (n >= kTailBytes) {
    tail_.assign(data + n - kTailBytes, kTailBytes);
    return;
  }
  if (tail_.size() + n > 2 * kTailBytes) tail_.erase(0, tail_.size() + n - kTailBytes);
  tail_.append(data, n);
}

}  // namespace radixmesh::router
