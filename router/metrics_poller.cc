#include "router/metrics_poller.h"

#include <boost/asio/post.hpp>

#include "router/upstream_connect.h"
#include "router/worker_load.h"

namespace radixmesh::router {

MetricsPoller::MetricsPoller(net::any_io_executor executor, Options options,
                             DataPlaneMetrics* metrics, const Logger& log)
    : executor_(executor), options_(options), metrics_(metrics), log_(log) {}

std::string_view MetricsPoller::label(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kNoLoadMetrics:
      return "no_load_metrics";
    case Outcome::kHttpError:
      return "http_error";
    case Outcome::kNetworkError:
      return "network_error";
    case Outcome::kTooLarge:
      return "too_large";
  }
  return "network_error";
}

void MetricsPoller::watch(std::shared_ptr<Worker> worker) {
  net::post(executor_, [this, worker = std::move(worker)]() mutable {
    if (stopped_) return;
    net::co_spawn(executor_, loop(std::move(worker)), net::detached);
  });
}

void MetricsPoller::stop() {
  net::post(executor_, [this] {
    stopped_ = true;
    for (auto* t : timers_) t->cancel();
    for (auto* c : connections_) c->cancel();
  });
}

awaitable<void> MetricsPoller::loop(std::shared_ptr<Worker> worker) {
  net::steady_timer timer(executor_);
  timers_.insert(&timer);
  std::unique_ptr<ByteStream> stream;  // this loop's keep-alive connection
  beast::flat_buffer buffer;
  Outcome last = Outcome::kOk;
  bool reported = false;  // gauges exported for this worker
  while (!stopped_ && !worker->removed()) {
    const auto started = Clock::now();
    const Outcome outcome = co_await poll(*worker, stream, buffer);
    if (!stream) buffer.clear();
    if (metrics_) metrics_->load_scrape(*worker, label(outcome));
    if (outcome != last && !stopped_) {
      if (outcome == Outcome::kOk) {
        log_.info("worker " + worker->url() + " reports its load in /metrics");
      } else {
        log_.debug("worker " + worker->url() + " load scrape: " + std::string(label(outcome)));
      }
      last = outcome;
    }
    const int64_t now = now_ms();
    if (metrics_) {
      const auto report = worker->load_report(now, options_.stale_after.count());
      if (report) {
        metrics_->worker_load(*worker, &*report);
        reported = true;
      } else if (reported) {
        metrics_->worker_load(*worker, nullptr);  // stale: drop the series
        reported = false;
      }
    }
    if (stopped_ || worker->removed()) break;
    timer.expires_at(started + options_.interval);
    co_await timer.async_wait(use_tuple);
  }
  if (stream) connections_.erase(stream.get());
  timers_.erase(&timer);
  if (metrics_) metrics_->worker_load(*worker, nullptr);
}

awaitable<MetricsPoller::Outcome> MetricsPoller::poll(Worker& worker,
                                                      std::unique_ptr<ByteStream>& stream,
                                                      beast::flat_buffer& buffer) {
  auto drop = [&](Outcome o) {
    if (stream) {
      connections_.erase(stream.get());
      stream.reset();
    }
    return o;
  };
  const WorkerAddress& address = worker.address();
  if (!stream) {
    tcp::resolver resolver(executor_);
    auto [rec, endpoints] = co_await resolver.async_resolve(address.host, address.port, use_tuple);
    if (rec || stopped_) co_return drop(Outcome::kNetworkError);
    ConnectResult c =
        co_await connect_worker(executor_, endpoints, address, options_.tls, options_.timeout);
    if (c.ec || stopped_) co_return drop(Outcome::kNetworkError);
    stream = std::move(c.stream);
    connections_.insert(stream.get());
  }
  stream->expires_after(options_.timeout);
  http::request<http::empty_body> req{http::verb::get, "/metrics", 11};
  req.set(http::field::host, address.host_header);
  req.set(http::field::user_agent, "radixmesh-load");
  req.set(http::field::accept, "text/plain; version=0.0.4");
  req.keep_alive(true);
  auto [wec, wn] = co_await http::async_write(*stream, req, use_tuple);
  if (wec) co_return drop(Outcome::kNetworkError);
  http::response_parser<http::string_body> parser;
  parser.body_limit(options_.max_body_bytes);
  auto [hec, hn] = co_await http::async_read(*stream, buffer, parser, use_tuple);
  if (hec)
    co_return drop(hec == http::error::body_limit ? Outcome::kTooLarge : Outcome::kNetworkError);
  const auto& res = parser.get();
  const bool keep = res.keep_alive();
  if (res.result_int() != 200) {
    co_return keep ? Outcome::kHttpError : drop(Outcome::kHttpError);
  }
  PromLimits limits;
  limits.max_bytes = options_.max_body_bytes;
  const LoadExtraction x = extract_worker_load(res.body(), limits);
  if (metrics_ && x.stats.malformed > 0) metrics_->load_scrape_malformed(worker, x.stats.malformed);
  Outcome outcome = Outcome::kNoLoadMetrics;
  if (x.load) {
    worker.publish_load(*x.load, now_ms());
    outcome = Outcome::kOk;
  }
  co_return keep ? outcome : drop(outcome);
}

}  // namespace radixmesh::router
