#include "router/pd_routing.h"

#include <charconv>

#include "router/worker.h"

namespace radixmesh::router {

std::optional<PdMode> parse_pd_mode(std::string_view text) {
  if (text == "off") return PdMode::kOff;
  if (text == "sglang") return PdMode::kSglang;
  if (text == "vllm") return PdMode::kVllm;
  return std::nullopt;
}

std::string_view to_string(PdMode mode) {
  switch (mode) {
    case PdMode::kOff:
      return "off";
    case PdMode::kSglang:
      return "sglang";
    case PdMode::kVllm:
      return "vllm";
  }
  return "off";
}

Result<PrefillUrl> parse_prefill_url(std::string_view text) {
  PrefillUrl out;
  std::string_view url = text;
  const size_t q = text.find('?');
  if (q != std::string_view::npos) {
    url = text.substr(0, q);
    const std::string_view query = text.substr(q + 1);
    constexpr std::string_view kKey = "bootstrap_port=";
    unsigned port = 0;
    const char* end = query.data() + query.size();
    if (query.substr(0, kKey.size()) != kKey) {
      return make_error(ErrorCode::kInvalidArgument, "prefill url '" + std::string(text) +
                                                         "': the only query is ?bootstrap_port=N");
    }
    auto [ptr, ec] = std::from_chars(query.data() + kKey.size(), end, port);
    if (ec != std::errc() || ptr != end || port == 0 || port > 65535) {
      return make_error(ErrorCode::kInvalidArgument,
                        "prefill url '" + std::string(text) + "': bootstrap_port must be 1..65535");
    }
    out.bootstrap_port = static_cast<uint16_t>(port);
  }
  auto address = parse_worker_url(url);
  if (!address) return address.error();
  out.url = std::string(url);
  return out;
}

}  // namespace radixmesh::router
