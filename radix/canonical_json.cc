// Encoder: canonical JSON re-serialisation, hashed non-text parts, bounds.
//
// The canonical JSON of a value is deterministic for the same JSON text up to
// whitespace and escaping: minified, object keys in the order sent (a
// worker's chat template renders them in that order, so a reordering is a
// different prompt to its KV cache), strings escaped minimally (", \ and
// control characters as \u00xx), numbers as parsed (integers in decimal,
// doubles in the shortest form that round-trips).
#include <xxhash.h>

#include <charconv>
#include <cstdio>

#include "radix/canonical_internal.h"

namespace radixmesh::radix::canon {

Error invalid(std::string field, std::string_view what) {
  field.append(": ");
  field.append(what);
  return make_error(ErrorCode::kInvalidArgument, std::move(field));
}

Error too_large(std::string field, std::string_view what) {
  field.append(": ");
  field.append(what);
  return make_error(ErrorCode::kTooLarge, std::move(field));
}

std::string index_path(std::string_view base, size_t i) {
  std::string s(base);
  s.push_back('[');
  s.append(std::to_string(i));
  s.push_back(']');
  return s;
}

Error Encoder::over() const {
  return make_error(
      ErrorCode::kTooLarge,
      "canonical prompt exceeds " + std::to_string(limits_.max_canonical_bytes) + " bytes");
}

void Encoder::flush() {
  if (target_ == nullptr) return;
  if (!started_) {
    target_->chain->start(chain_seed(target_->salt, target_->model, *target_->ns),
                          target_->block_bytes, *target_->blocks);
    started_ = true;
  }
  if (out_.empty()) return;
  target_->chain->append(out_);
  out_.clear();
}

Status Encoder::token(uint32_t id) {
  const char b[4] = {static_cast<char>(id & 0xFF), static_cast<char>((id >> 8) & 0xFF),
                     static_cast<char>((id >> 16) & 0xFF), static_cast<char>(id >> 24)};
  return put(std::string_view(b, 4));
}

Error Encoder::too_many(std::string field) const {
  return too_large(std::move(field),
                   "array has more than " + std::to_string(limits_.max_array_items) + " items");
}

namespace {

void write_string(std::string_view s, std::string& to) {
  to.push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    to.append(s.data() + run, i - run);
    run = i + 1;
    if (c == '"' || c == '\\') {
      to.push_back('\\');
      to.push_back(static_cast<char>(c));
    } else {
      char esc[7];
      std::snprintf(esc, sizeof(esc), "\\u%04x", c);
      to.append(esc, 6);
    }
  }
  to.append(s.data() + run, s.size() - run);
  to.push_back('"');
}

template <typename T>
void write_number(T v, std::string& to) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  to.append(buf, r.ptr);
}

}  // namespace

// Recursion depth is bounded by the parser's max_depth (the document cannot
// nest deeper); size by max_canonical_bytes, checked at every value.
bool Encoder::write_json(dom::element v, std::string& to) const {
  if (to.size() > limits_.max_canonical_bytes) return false;
  switch (v.type()) {
    case dom::element_type::ARRAY: {
      to.push_back('[');
      bool first = true;
      for (dom::element item : as<dom::array>(v)) {
        if (!first) to.push_back(',');
        first = false;
        if (!write_json(item, to)) return false;
      }
      to.push_back(']');
      return true;
    }
    case dom::element_type::OBJECT: {
      to.push_back('{');
      bool first = true;
      for (dom::key_value_pair kv : as<dom::object>(v)) {
        if (!first) to.push_back(',');
        first = false;
        write_string(kv.key, to);
        to.push_back(':');
        if (!write_json(kv.value, to)) return false;
      }
      to.push_back('}');
      return true;
    }
    case dom::element_type::INT64:
      write_number(as<int64_t>(v), to);
      return true;
    case dom::element_type::UINT64:
      write_number(as<uint64_t>(v), to);
      return true;
    case dom::element_type::DOUBLE:
      write_number(as<double>(v), to);
      return true;
    case dom::element_type::STRING:
      write_string(as<std::string_view>(v), to);
      return true;
    case dom::element_type::BOOL:
      to.append(as<bool>(v) ? "true" : "false");
      return true;
    case dom::element_type::NULL_VALUE:
      to.append("null");
      return true;
  }
  return true;
}

Status Encoder::json(dom::element v) {
  const size_t before = out_.size();
  if (!write_json(v, out_) || size() > limits_.max_canonical_bytes) {
    out_.resize(before);
    return over();
  }
  chars_ += out_.size() - before;  // tools and tool calls are rendered into the prompt
  return Ok{};
}

Status Encoder::blob(std::string_view type, dom::element part) {
  scratch_.clear();
  if (!write_json(part, scratch_)) return over();
  const uint64_t h = XXH3_64bits(scratch_.data(), scratch_.size());
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  CANON_TRY(put(kBlob));
  CANON_TRY(put(type));
  CANON_TRY(put(kValue));
  return put(std::string_view(hex, 16));
}

}  // namespace radixmesh::radix::canon
