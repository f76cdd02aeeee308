#include "router/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <charconv>
#include <cmath>
#include <cstring>

namespace radixmesh::router {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool valid_key_char(char c) { return c > 0x20 && c < 0x7f && c != '#'; }

bool valid_tenant_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// A non-negative decimal (no exponent, no sign, no inf/nan).
std::optional<double> parse_rate(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.')) return std::nullopt;
  }
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v) || v > 1e9) {
    return std::nullopt;
  }
  return v;
}

Error line_error(size_t line, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, "line " + std::to_string(line) + ": " + why);
}

}  // namespace

KeyDigest digest_key(std::string_view key) {
  KeyDigest d{};
  unsigned int len = 0;
  EVP_Digest(key.data(), key.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

size_t ApiKeySet::DigestHash::operator()(const KeyDigest& d) const {
  size_t h = 0;
  std::memcpy(&h, d.data(), sizeof h);  // a SHA-256 prefix is uniform already
  return h;
}

Result<ApiKeySet> ApiKeySet::parse(std::string_view text) {
  if (text.size() > kMaxFileBytes) {
    return make_error(ErrorCode::kTooLarge,
                      "file is larger than " + std::to_string(kMaxFileBytes) + " bytes");
  }
  ApiKeySet set;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    // Split into blank-separated fields.
    std::vector<std::string_view> fields;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && is_blank(line[i])) ++i;
      const size_t b = i;
      while (i < line.size() && !is_blank(line[i])) ++i;
      if (i > b) fields.push_back(line.substr(b, i - b));
    }
    if (fields.empty()) continue;

    const std::string_view key = fields[0];
    for (std::string_view attr : {"name=", "rps=", "burst="}) {
      if (key.substr(0, attr.size()) == attr) {
        return line_error(line_no, "a line starts with the key, then its attributes");
      }
    }
    if (key.size() < kMinKeyChars || key.size() > kMaxKeyChars) {
      return line_error(line_no, "a key must have " + std::to_string(kMinKeyChars) + " to " +
                                     std::to_string(kMaxKeyChars) + " characters");
    }
    for (char c : key) {
      if (!valid_key_char(c)) return line_error(line_no, "a key must be printable ASCII");
    }
    ApiKeyEntry entry;
    entry.digest = digest_key(key);
    entry.line = line_no;
    bool seen_name = false;
    for (size_t f = 1; f < fields.size(); ++f) {
      const std::string_view field = fields[f];
      const size_t eq = field.find('=');
      if (eq == std::string_view::npos) {
        return line_error(line_no, "expected name=, rps= or burst= after the key");
      }
      const std::string_view attr = field.substr(0, eq);
      const std::string_view value = field.substr(eq + 1);
      if (attr == "name") {
        if (seen_name) return line_error(line_no, "name= given twice");
        if (value.empty() || value.size() > 64) {
          return line_error(line_no, "name= must have 1 to 64 characters");
        }
        for (char c : value) {
          if (!valid_tenant_char(c)) return line_error(line_no, "name= allows [A-Za-z0-9._-]");
        }
        entry.tenant.assign(value);
        seen_name = true;
      } else if (attr == "rps") {
        if (entry.rps) return line_error(line_no, "rps= given twice");
        entry.rps = parse_rate(value);
        if (!entry.rps) return line_error(line_no, "rps= must be a number >= 0");
      } else if (attr == "burst") {
        if (entry.burst) return line_error(line_no, "burst= given twice");
        entry.burst = parse_rate(value);
        if (!entry.burst || *entry.burst < 1) {
          return line_error(line_no, "burst= must be a number >= 1");
        }
      } else {
        return line_error(line_no, "unknown attribute '" + std::string(attr.substr(0, 32)) +
                                       "' (name=, rps=, burst=)");
      }
    }
    if (set.by_digest_.count(entry.digest)) {
      return line_error(line_no, "the same key is already on line " +
                                     std::to_string(set.entries_[set.by_digest_[entry.digest]].line));
    }
    if (set.entries_.size() >= kMaxKeys) {
      return line_error(line_no, "more than " + std::to_string(kMaxKeys) + " keys");
    }
    set.by_digest_.emplace(entry.digest, set.entries_.size());
    set.entries_.push_back(std::move(entry));
  }
  return set;
}

void ApiKeySet::carry_buckets_from(const ApiKeySet* previous) {
  for (ApiKeyEntry& e : entries_) {
    const ApiKeyEntry* old = previous ? previous->find_digest(e.digest) : nullptr;
    e.bucket = old && old->bucket ? old->bucket : std::make_shared<TokenBucket>();
  }
}

const ApiKeyEntry* ApiKeySet::find_digest(const KeyDigest& d) const {
  const auto it = by_digest_.find(d);
  if (it == by_digest_.end()) return nullptr;
  const ApiKeyEntry& e = entries_[it->second];
  // The map compared the digests already; this constant-time comparison
  // keeps that true whatever the map's equality does.
  if (CRYPTO_memcmp(e.digest.data(), d.data(), d.size()) != 0) return nullptr;
  return &e;
}

const ApiKeyEntry* ApiKeySet::find(std::string_view presented) const {
  if (presented.empty() || presented.size() > kMaxKeyChars) return nullptr;
  return find_digest(digest_key(presented));
}

std::string_view bearer_token(std::string_view v) {
  while (!v.empty() && is_blank(v.front())) v.remove_prefix(1);
  while (!v.empty() && is_blank(v.back())) v.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (v.size() <= kScheme.size() || !is_blank(v[kScheme.size()])) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = v[i] >= 'A' && v[i] <= 'Z' ? static_cast<char>(v[i] - 'A' + 'a') : v[i];
    if (c != kScheme[i]) return {};
  }
  v.remove_prefix(kScheme.size());
  while (!v.empty() && is_blank(v.front())) v.remove_prefix(1);
  return v;
}

}  // namespace radixmesh::router
