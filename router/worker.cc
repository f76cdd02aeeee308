#include "router/worker.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace radixmesh::router {

Result<WorkerAddress> parse_worker_url(std::string_view url) {
  auto bad = [&](const char* why) {
    return make_error(ErrorCode::kInvalidArgument, "worker url '" + std::string(url) + "': " + why);
  };
  constexpr std::string_view kHttp = "http://";
  constexpr std::string_view kHttps = "https://";
  const bool tls = url.substr(0, kHttps.size()) == kHttps;
  if (!tls && url.substr(0, kHttp.size()) != kHttp)
    return bad("must start with http:// or https://");
  std::string_view rest = url.substr(tls ? kHttps.size() : kHttp.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad("a path is not allowed");
  if (rest.find('@') != std::string_view::npos) return bad("credentials are not allowed");
  std::string_view host, port = tls ? "443" : "80";
  bool ipv6 = false;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unterminated [ipv6] address");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after ]");
      port = after.substr(1);
    }
    ipv6 = true;
  } else {
    const size_t colon = rest.rfind(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (host.empty()) return bad("missing host");
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
    return bad("port must be 1..65535");
  }
  WorkerAddress a;
  a.host = std::string(host);
  a.port = std::to_string(value);
  a.host_header = ipv6 ? "[" + a.host + "]:" + a.port : a.host + ":" + a.port;
  a.tls = tls;
  a.url = (tls ? "https://" : "http://") + a.host_header;
  return a;
}

Worker::Worker(radix::WorkerId id, WorkerAddress address, CircuitBreaker::Options breaker)
    : id_(id), breaker_(breaker), address_(std::move(address)) {}

}  // namespace radixmesh::router

namespace radixmesh::router {
namespace {

// load_word_ layout: bit 63 set = a report; bits 0..23 waiting, 24..47
// running (both saturate at 2^24 - 1), 48..62 KV usage in 1/32766 steps
// (0x7fff: not reported).
constexpr uint64_t kKnownBit = uint64_t{1} << 63;
constexpr uint64_t kCountMask = (uint64_t{1} << 24) - 1;
constexpr uint64_t kKvUnknown = 0x7fff;
constexpr double kKvScale = 32766.0;

}  // namespace

void Worker::publish_load(const WorkerLoad& load, int64_t at_ms) {
  uint64_t kv = kKvUnknown;
  if (load.kv_usage)
    kv = static_cast<uint64_t>(std::lround(std::clamp(*load.kv_usage, 0.0, 1.0) * kKvScale));
  const uint64_t word = kKnownBit | (kv << 48) |
                        (std::min<uint64_t>(load.running, kCountMask) << 24) |
                        std::min<uint64_t>(load.waiting, kCountMask);
  load_at_ms_.store(at_ms, std::memory_order_relaxed);
  load_word_.store(word, std::memory_order_release);
}

std::optional<WorkerLoad> Worker::load_report(int64_t now_ms, int64_t stale_after_ms) const {
  const uint64_t word = load_word_.load(std::memory_order_acquire);
  if (!(word & kKnownBit)) return std::nullopt;
  if (now_ms - load_at_ms_.load(std::memory_order_relaxed) > stale_after_ms) return std::nullopt;
  WorkerLoad load;
  load.waiting = static_cast<uint32_t>(word & kCountMask);
  load.running = static_cast<uint32_t>((word >> 24) & kCountMask);
  const uint64_t kv = (word >> 48) & 0x7fff;
  if (kv != kKvUnknown) load.kv_usage = static_cast<double>(kv) / kKvScale;
  return load;
}

}  // namespace radixmesh::router
