#include "router/stream_usage.h"

#include <nlohmann/json.hpp>

namespace radixmesh::router {
namespace {

constexpr std::string_view kUsageKey = "\"usage\"";

bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Index just past the blank line that ends the event starting at `from`, or
// npos when the event is not complete yet.
size_t event_end(std::string_view s, size_t from) {
  constexpr size_t npos = std::string_view::npos;
  const size_t lf = s.find("\n\n", from);
  const size_t crlf = s.find("\r\n\r\n", from);
  const size_t lf_end = lf == npos ? npos : lf + 2;
  const size_t crlf_end = crlf == npos ? npos : crlf + 4;
  return lf_end < crlf_end ? lf_end : crlf_end;
}

bool ends_with_blank_line(std::string_view s) {
  return s.ends_with("\n\n") || s.ends_with("\r\n\r\n");
}

}  // namespace

std::optional<size_t> include_usage_offset(std::string_view body) {
  size_t i = 0;
  while (i < body.size() && is_json_space(body[i])) ++i;
  if (i == body.size() || body[i] != '{') return std::nullopt;
  return i + 1;
}

bool is_usage_only_event(std::string_view event) {
  // The event's data: its "data:" lines, joined by "\n" (the SSE rules).
  std::string data;
  bool any = false;
  size_t pos = 0;
  while (pos < event.size()) {
    size_t eol = event.find('\n', pos);
    if (eol == std::string_view::npos) eol = event.size();
    std::string_view line = event.substr(pos, eol - pos);
    if (line.ends_with('\r')) line.remove_suffix(1);
    pos = eol + 1;
    if (!line.starts_with("data:")) continue;
    line.remove_prefix(5);
    if (line.starts_with(' ')) line.remove_prefix(1);
    if (any) data += '\n';
    data.append(line);
    any = true;
  }
  if (!any) return false;
  const nlohmann::json j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  const auto choices = j.find("choices");
  const auto usage = j.find("usage");
  return choices != j.end() && choices->is_array() && choices->empty() && usage != j.end() &&
         usage->is_object();
}

void UsageChunkFilter::reset(bool enabled) {
  enabled_ = enabled;
  dropped_ = false;
  other_usage_ = false;
  passing_long_event_ = false;
  held_.clear();
  out_.clear();
}

std::string_view UsageChunkFilter::filter(std::string_view piece, bool last) {
  if (!enabled_) return piece;
  // The common case: whole events, none about usage.
  if (held_.empty() && !passing_long_event_ && ends_with_blank_line(piece) &&
      piece.find(kUsageKey) == std::string_view::npos) {
    return piece;
  }
  out_.clear();
  held_.append(piece);
  take_events(last);
  return out_;
}

void UsageChunkFilter::take_events(bool last) {
  size_t pos = 0;
  for (;;) {
    const size_t end = event_end(held_, pos);
    if (end == std::string_view::npos) break;
    const std::string_view event(held_.data() + pos, end - pos);
    pos = end;
    if (passing_long_event_) {  // the end of an event already partly sent
      passing_long_event_ = false;
      out_.append(event);
      continue;
    }
    if (event.find(kUsageKey) != std::string_view::npos) {
      if (is_usage_only_event(event)) {
        dropped_ = true;
        continue;
      }
      other_usage_ = true;
    }
    out_.append(event);
  }
  held_.erase(0, pos);
  if (last) {
    out_.append(held_);
    held_.clear();
    passing_long_event_ = false;
  } else if (held_.size() > kMaxHeldBytes) {
    // Too long for a usage chunk: send it on, keeping the last 3 bytes, in
    // which a blank line may have begun.
    const size_t send = held_.size() - 3;
    out_.append(held_, 0, send);
    held_.erase(0, send);
    passing_long_event_ = true;
  }
}

}  // namespace radixmesh::router
