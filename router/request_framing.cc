#include "router/request_framing.h"

#include <string_view>
#include <vector>

namespace radixmesh::router {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The codings of every Transfer-Encoding field, in order; empty items
// dropped. Bounded by the header limit.
std::vector<std::string_view> codings(const http::fields& fields) {
  std::vector<std::string_view> out;
  for (auto it = fields.find(http::field::transfer_encoding);
       it != fields.end() && it->name() == http::field::transfer_encoding; ++it) {
    std::string_view list = it->value();
    for (;;) {
      const size_t comma = list.find(',');
      const std::string_view item = trim(list.substr(0, comma));
      if (!item.empty()) out.push_back(item);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return out;
}

bool is_chunked(std::string_view coding) {
  return beast::iequals(coding, "chunked");
}

}  // namespace

std::optional<FramingError> check_request_framing(const http::fields& fields, unsigned version) {
  if (fields.find(http::field::transfer_encoding) == fields.end()) return std::nullopt;
  if (version < 11) {
    return FramingError{RouterErrc::kBadRequest,
                        "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1)"};
  }
  const auto list = codings(fields);
  if (list.empty() || !is_chunked(list.back())) {
    return FramingError{RouterErrc::kBadRequest,
                        "Transfer-Encoding: chunked must be the final transfer coding"};
  }
  for (size_t i = 0; i + 1 < list.size(); ++i) {
    if (is_chunked(list[i])) {
      return FramingError{RouterErrc::kBadRequest, "Transfer-Encoding: chunked given twice"};
    }
  }
  if (list.size() > 1) {
    return FramingError{
        RouterErrc::kNotImplemented,
        "transfer coding '" + std::string(list.front()) + "' is not supported (only chunked)"};
  }
  return std::nullopt;
}

}  // namespace radixmesh::router
