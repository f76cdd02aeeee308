#include "router/worker.h"

#include <charconv>

namespace radixmesh::router {

Result<WorkerAddress> parse_worker_url(std::string_view url) {
  auto bad = [&](const char* why) {
    return make_error(ErrorCode::kInvalidArgument, "worker url '" + std::string(url) + "': " + why);
  };
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return bad("must start with http:// (TLS to workers is not supported)");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad("a path is not allowed");
  if (rest.find('@') != std::string_view::npos) return bad("credentials are not allowed");
  std::string_view host, port = "80";
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
  a.url = "http://" + a.host_header;
  return a;
}

Worker::Worker(radix::WorkerId id, WorkerAddress address, CircuitBreaker::Options breaker)
    : id_(id), breaker_(breaker), address_(std::move(address)) {}

}  // namespace radixmesh::router
