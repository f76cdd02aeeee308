// Prefill/decode disaggregation (issue 14): the router's two pools and what
// a PD request needs to know about them.
//
// With --pd-mode sglang|vllm the router keeps two worker pools instead of
// one: prefill workers (--prefill, --prefill-dns) and decode workers
// (--decode, --decode-dns), each in its own WorkerRegistry with its own
// policy (--prefill-policy, default cache_aware; --decode-policy, default
// least_load) and its own RoutingEngine. The prefill pool uses the model's
// tree (the prefill worker is where the prompt's KV is computed and cached);
// the decode pool's trees are named "<model>@decode", so both are meshed and
// listed like any tree. The request flows are in router/pd_proxy.cc.
//
// A prefill worker's SGLang bootstrap port is --prefill-bootstrap-port, or
// per worker the URL's query: --prefill 'http://p1:30000?bootstrap_port=9001'.
//
// Threads: PdSettings is a plain value; PdRouting is immutable after start-up
// and read by every io thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policies/policy.h"
#include "radix/result.h"

namespace radixmesh::router {

class RoutingEngine;
class Worker;

enum class PdMode { kOff, kSglang, kVllm };
std::optional<PdMode> parse_pd_mode(std::string_view text);  // off|sglang|vllm
std::string_view to_string(PdMode mode);

// The suffix of the decode pool's tree names.
inline constexpr std::string_view kDecodeTreeSuffix = "@decode";

// One --prefill value: "URL" or "URL?bootstrap_port=N" (N in 1..65535).
struct PrefillUrl {
  std::string url;                         // without the query
  std::optional<uint16_t> bootstrap_port;  // nullopt: --prefill-bootstrap-port
};
Result<PrefillUrl> parse_prefill_url(std::string_view text);

// The component options of PD mode (router/component_options.h).
struct PdSettings {
  PdMode mode = PdMode::kOff;
  std::vector<std::string> prefill_urls;  // without their queries
  std::vector<std::string> decode_urls;
  std::string prefill_dns, decode_dns;  // NAME:PORT
  uint16_t bootstrap_port = 8998;
  // Per-worker bootstrap ports, by the URL as given (normalised at start).
  std::vector<std::pair<std::string, uint16_t>> bootstrap_overrides;
  policies::PolicyConfig prefill_policy, decode_policy;
  // A request whose uncached part on the chosen prefill worker is below
  // this many bytes of canonical prompt goes to the decode pool alone
  // (0: never). vLLM decode workers prefill what they are sent; SGLang's
  // cannot, so the option is refused with --pd-mode sglang.
  uint64_t bypass_bytes = 0;
  bool operator==(const PdSettings&) const = default;
};

// What a PD request reads at run time: the decode pool's engine (the
// prefill pool's is the proxy's own) and the bootstrap ports.
class PdRouting {
 public:
  // `overrides` keys are normalised worker URLs.
  PdRouting(PdMode mode, const RoutingEngine& decode, uint16_t bootstrap_port,
            std::unordered_map<std::string, uint16_t> overrides, uint64_t bypass_bytes)
      : mode_(mode),
        decode_(decode),
        bootstrap_port_(bootstrap_port),
        overrides_(std::move(overrides)),
        bypass_bytes_(bypass_bytes) {}

  PdMode mode() const { return mode_; }
  const RoutingEngine& decode() const { return decode_; }
  uint64_t bypass_bytes() const { return bypass_bytes_; }
  // The bootstrap port of prefill worker `url` (normalised).
  uint16_t bootstrap_port_of(const std::string& url) const {
    auto it = overrides_.find(url);
    return it == overrides_.end() ? bootstrap_port_ : it->second;
  }

 private:
  const PdMode mode_;
  const RoutingEngine& decode_;
  const uint16_t bootstrap_port_;
  const std::unordered_map<std::string, uint16_t> overrides_;
  const uint64_t bypass_bytes_;
};

}  // namespace radixmesh::router
