#include "router/worker.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "radix/address.h"

namespace radixmesh::router {

Result<WorkerAddress> parse_worker_url(std::string_view url) {
  auto parsed = radix::parse_http_url(url);
  if (!parsed)
    return make_error(ErrorCode::kInvalidArgument, "worker url " + parsed.error().message);
  if (!parsed->path.empty() && parsed->path != "/") {
    return make_error(ErrorCode::kInvalidArgument,
                      "worker url '" + std::string(url) + "': a path is not allowed");
  }
  WorkerAddress a;
  a.host = parsed->authority.host;
  a.port = std::to_string(parsed->authority.port);
  a.host_header = parsed->authority.text();
  a.tls = parsed->tls;
  a.url = parsed->origin();
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
