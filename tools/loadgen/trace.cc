#include "tools/loadgen/trace.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace radixmesh::tools::loadgen {
namespace {

constexpr uint64_t kBytesPerToken = 4;

uint64_t block_key(uint64_t seed, uint64_t id) {
  uint64_t x = seed ^ (id * 0x9e3779b97f4a7c15ull) ^ 0x7261646978ull;  // "radix"
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool uint_of(const nlohmann::json& j, const char* name, uint64_t& out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned()) return false;
  out = it->get<uint64_t>();
  return true;
}

}  // namespace

bool parse_trace(std::string_view text, const LoadgenOptions& o, std::vector<Session>& out,
                 std::string& error) {
  out.clear();
  const uint64_t block_bytes = uint64_t{o.trace_block_tokens} * kBytesPerToken;
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line_no > kTraceMaxLines) {
      error = "more than " + std::to_string(kTraceMaxLines) + " lines";
      return false;
    }
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    auto fail = [&](const std::string& why) {
      error = "line " + std::to_string(line_no) + ": " + why;
      return false;
    };
    if (line.size() > kTraceMaxLineBytes) return fail("longer than 1 MiB");
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return fail("not a JSON object");
    uint64_t ts = 0, in_len = 0, out_len = 0;
    if (!uint_of(j, "timestamp", ts)) return fail("needs a non-negative integer \"timestamp\"");
    if (!uint_of(j, "input_length", in_len) || in_len == 0)
      return fail("needs a positive integer \"input_length\"");
    if (!uint_of(j, "output_length", out_len))
      return fail("needs a non-negative integer \"output_length\"");
    auto ids = j.find("hash_ids");
    if (ids == j.end() || !ids->is_array() || ids->empty())
      return fail("needs a non-empty array \"hash_ids\"");
    if (ids->size() > kTraceMaxIds) return fail("too many hash_ids");
    Session s;
    s.kind = SessionKind::kTrace;
    s.send_at_ms = static_cast<double>(ts);
    s.max_tokens = static_cast<uint32_t>(std::clamp<uint64_t>(out_len, 1, 1 << 20));
    uint64_t left = in_len * kBytesPerToken;
    for (const auto& id : *ids) {
      if (!id.is_number_unsigned()) return fail("hash_ids must be non-negative integers");
      if (left == 0) break;  // more ids than input_length covers: the rest carry nothing
      const uint64_t bytes = std::min(left, block_bytes);
      s.prompt_blocks.push_back(
          {block_key(o.seed, id.get<uint64_t>()), static_cast<uint32_t>(bytes)});
      left -= bytes;
    }
    // input_length beyond the ids (a trace that lists fewer): a unique tail.
    if (left > 0)
      s.prompt_blocks.push_back({block_key(o.seed ^ 0x5a5a, line_no), static_cast<uint32_t>(left)});
    s.pin_key = s.prompt_blocks.front().key;
    s.user_turns.push_back({0, 0});  // one turn; its text is prompt_blocks
    out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Session& a, const Session& b) { return a.send_at_ms < b.send_at_ms; });
  for (size_t i = 0; i < out.size(); ++i) out[i].id = i;
  return true;
}

bool load_trace(const LoadgenOptions& o, std::vector<Session>& out, std::string& error) {
  std::ifstream in(o.trace_path, std::ios::binary);
  if (!in) {
    error = "cannot read " + o.trace_path;
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!parse_trace(ss.str(), o, out, error)) {
    error = o.trace_path + ": " + error;
    return false;
  }
  return true;
}

}  // namespace radixmesh::tools::loadgen
