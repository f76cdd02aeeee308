#include "router/prometheus_text.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace radixmesh::router {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}
bool is_label_start(char c) {
  return is_name_start(c) && c != ':';
}
bool is_label_char(char c) {
  return is_name_char(c) && c != ':';
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

class LineCursor {
 public:
  explicit LineCursor(std::string_view line) : s_(line) {}
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return s_[i_]; }
  void skip_blanks() {
    while (i_ < s_.size() && is_blank(s_[i_])) ++i_;
  }
  std::string_view take_while(bool (*pred)(char)) {
    const size_t b = i_;
    while (i_ < s_.size() && pred(s_[i_])) ++i_;
    return s_.substr(b, i_ - b);
  }
  std::string_view take_token() {
    const size_t b = i_;
    while (i_ < s_.size() && !is_blank(s_[i_])) ++i_;
    return s_.substr(b, i_ - b);
  }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // A quoted label value, unescaped into `out`. The opening quote is eaten.
  bool quoted(std::string& out) {
    out.clear();
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '"') return true;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) return false;
      const char e = s_[i_++];
      if (e == '\\') {
        out.push_back('\\');
      } else if (e == '"') {
        out.push_back('"');
      } else if (e == 'n') {
        out.push_back('\n');
      } else {
        return false;  // the format defines no other escape
      }
    }
    return false;  // unterminated
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// Parses the label set after the '{' into labels[0..n); false if malformed.
bool parse_labels(LineCursor& c, std::vector<PromLabel>& labels, size_t& n, size_t max_labels) {
  n = 0;
  for (;;) {
    c.skip_blanks();
    if (c.eat('}')) return true;  // empty set, or after a trailing comma
    if (c.done() || !is_label_start(c.peek())) return false;
    std::string_view name = c.take_while(is_label_char);
    c.skip_blanks();
    if (!c.eat('=')) return false;
    c.skip_blanks();
    if (!c.eat('"')) return false;
    if (n >= max_labels) return false;
    if (labels.size() <= n) labels.emplace_back();
    labels[n].name = name;
    if (!c.quoted(labels[n].value)) return false;
    for (size_t k = 0; k < n; ++k) {
      if (labels[k].name == name) return false;  // duplicate label name
    }
    ++n;
    c.skip_blanks();
    if (c.eat(',')) continue;
    if (c.eat('}')) return true;
    return false;
  }
}

}  // namespace

const std::string* PromSample::label(std::string_view name) const {
  for (const PromLabel& l : labels) {
    if (l.name == name) return &l.value;
  }
  return nullptr;
}

std::optional<double> parse_prom_value(std::string_view t) {
  if (t.empty()) return std::nullopt;
  if (iequals(t, "nan")) return std::numeric_limits<double>::quiet_NaN();
  if (iequals(t, "+inf") || iequals(t, "inf")) return std::numeric_limits<double>::infinity();
  if (iequals(t, "-inf")) return -std::numeric_limits<double>::infinity();
  std::string_view digits = t;
  if (digits.front() == '+') {
    digits.remove_prefix(1);  // from_chars takes no '+'
    if (digits.empty() || digits.front() == '-' || digits.front() == '+') return std::nullopt;
  }
  double v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (std::isnan(v) || std::isinf(v)) return std::nullopt;  // spelled "nan"/"inf" via from_chars
  return v;
}

PromStats parse_prometheus_text(std::string_view body,
                                const std::function<bool(std::string_view)>& want,
                                const std::function<void(const PromSample&)>& on_sample,
                                const PromLimits& limits) {
  PromStats stats;
  if (body.size() > limits.max_bytes) {
    stats.too_large = true;
    return stats;
  }
  std::vector<PromLabel> labels;
  size_t pos = 0;
  while (pos < body.size()) {
    if (stats.lines >= limits.max_lines) {
      stats.line_limit_hit = true;
      break;
    }
    const void* nl = std::memchr(body.data() + pos, '\n', body.size() - pos);
    const size_t end = nl ? static_cast<const char*>(nl) - body.data() : body.size();
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    ++stats.lines;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    LineCursor c(line);
    c.skip_blanks();
    if (c.done()) continue;  // blank line
    if (c.peek() == '#') {
      ++stats.comments;  // HELP, TYPE or a free comment: nothing the router needs
      continue;
    }
    if (!is_name_start(c.peek())) {
      ++stats.malformed;
      continue;
    }
    PromSample s;
    s.name = c.take_while(is_name_char);
    if (want && !want(s.name)) {
      ++stats.filtered;
      continue;
    }
    size_t n = 0;
    c.skip_blanks();
    if (c.eat('{') && !parse_labels(c, labels, n, limits.max_labels)) {
      ++stats.malformed;
      continue;
    }
    c.skip_blanks();
    const std::optional<double> value = parse_prom_value(c.take_token());
    if (!value) {
      ++stats.malformed;
      continue;
    }
    s.value = *value;
    c.skip_blanks();
    if (!c.done()) {
      const std::string_view ts = c.take_token();
      int64_t t = 0;
      const auto [tend, tec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
      c.skip_blanks();
      if (tec != std::errc() || tend != ts.data() + ts.size() || !c.done()) {
        ++stats.malformed;
        continue;
      }
      s.timestamp_ms = t;
    }
    s.labels = std::span<const PromLabel>(labels.data(), n);
    ++stats.samples;
    if (on_sample) on_sample(s);
  }
  return stats;
}

}  // namespace radixmesh::router
