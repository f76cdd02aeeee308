#include "router/health_checker.h"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "router/fd_budget.h"
#include "router/upstream_connect.h"

namespace radixmesh::router {
namespace {

constexpr size_t kMaxCheckBody = 1 << 20;

struct GetResult {
  error_code ec;
  unsigned status = 0;
  std::string body;
};

// One GET on a fresh connection, everything within `timeout`.
awaitable<GetResult> http_get(net::any_io_executor ex, const WorkerAddress& address,
                              std::string target, std::chrono::milliseconds timeout,
                              ssl::context* tls) {
  GetResult r;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(address.host, address.port, use_tuple);
  if (rec) {
    r.ec = rec;
    co_return r;
  }
  // EMFILE comes back as such (see is_local_resource_error).
  ConnectResult c = co_await connect_worker(ex, endpoints, address, tls, timeout);
  if (c.ec) {
    r.ec = c.ec;
    co_return r;
  }
  ByteStream& stream = *c.stream;
  stream.expires_after(timeout);
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, address.host_header);
  req.set(http::field::user_agent, "radixmesh-health");
  req.keep_alive(false);
  auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
  if (wec) {
    r.ec = wec;
    co_return r;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxCheckBody);
  auto [hec, hn] = co_await http::async_read(stream, buffer, parser, use_tuple);
  if (hec) {
    r.ec = hec;
    co_return r;
  }
  r.status = parser.get().result_int();
  r.body = std::move(parser.get().body());
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return r;
}

}  // namespace

bool parse_models_body(std::string_view body, std::vector<std::string>& out) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  auto data = j.find("data");
  if (data == j.end() || !data->is_array()) return false;
  out.clear();
  for (const auto& item : *data) {
    if (!item.is_object()) continue;
    auto id = item.find("id");
    if (id != item.end() && id->is_string()) out.push_back(id->get<std::string>());
  }
  return true;
}

HealthChecker::HealthChecker(net::any_io_executor executor, WorkerRegistry& registry,
                             Options options, DataPlaneMetrics* metrics, const Logger& log)
    : executor_(executor), registry_(registry), options_(options), metrics_(metrics), log_(log) {}

void HealthChecker::watch(std::shared_ptr<Worker> worker) {
  net::post(executor_, [this, worker = std::move(worker)]() mutable {
    if (stopped_) return;
    net::co_spawn(executor_, loop(std::move(worker)), net::detached);
  });
}

void HealthChecker::stop() {
  net::post(executor_, [this] {
    stopped_ = true;
    for (auto* t : timers_) t->cancel();
  });
}

awaitable<void> HealthChecker::loop(std::shared_ptr<Worker> worker) {
  net::steady_timer timer(executor_);
  timers_.insert(&timer);
  while (!stopped_ && !worker->removed()) {
    co_await check(worker);
    if (stopped_ || worker->removed()) break;
    timer.expires_after(options_.interval);
    co_await timer.async_wait(use_tuple);
  }
  timers_.erase(&timer);
  if (metrics_) metrics_->forget_worker(*worker);
}

awaitable<void> HealthChecker::check(std::shared_ptr<Worker> worker) {
  GetResult health =
      co_await http_get(executor_, worker->address(), "/health", options_.timeout, options_.tls);
  if (is_local_resource_error(health.ec)) {
    // No descriptor for the check's socket: this process's shortage, not
    // the worker's. Keep its health as it was and check again next round.
    if (auto line = local_errors_.on_error(Clock::now(), health.ec.message())) log_.warn(*line);
    if (metrics_) metrics_->refresh_worker(*worker, now_ms());
    co_return;
  }
  if (auto line = local_errors_.on_success(Clock::now())) log_.warn(*line);
  const bool ok = !health.ec && health.status == 200;
  if (ok != worker->healthy()) {
    if (ok) {
      log_.info("worker " + worker->url() + " is healthy");
    } else {
      log_.warn("worker " + worker->url() + " is unhealthy: " +
                (health.ec ? health.ec.message() : "status " + std::to_string(health.status)));
    }
  }
  if (ok && !worker->removed()) {
    GetResult models = co_await http_get(executor_, worker->address(), "/v1/models",
                                         options_.timeout, options_.tls);
    std::vector<std::string> names;
    if (!models.ec && models.status == 200 && parse_models_body(models.body, names)) {
      registry_.set_models(worker, std::move(names));
    } else if (!models.ec && models.status == 404) {
      registry_.clear_models(worker);  // no model list: serves whatever it is sent
    }
  }
  // Health last: the worker becomes routable with its model list in place.
  worker->set_healthy(ok);
  if (metrics_) metrics_->refresh_worker(*worker, now_ms());
}

}  // namespace radixmesh::router
