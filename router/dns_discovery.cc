#include "router/dns_discovery.h"

#include <boost/asio/post.hpp>
#include <stdexcept>

#include "radix/address.h"

namespace radixmesh::router {

DnsDiscovery::Options DnsDiscovery::parse(const std::string& spec,
                                          std::chrono::milliseconds interval) {
  auto hp = radix::parse_host_port(spec);
  if (!hp) throw std::invalid_argument("--workers-dns " + hp.error().message + " (NAME:PORT)");
  Options o;
  o.name = hp->host;
  o.port = std::to_string(hp->port);
  o.interval = interval;
  return o;
}

DnsDiscovery::DnsDiscovery(net::any_io_executor executor, WorkerRegistry& registry, Options options,
                           const Logger& log)
    : executor_(executor),
      registry_(registry),
      options_(std::move(options)),
      log_(log),
      timer_(executor) {}

void DnsDiscovery::start() {
  net::co_spawn(executor_, loop(), net::detached);
}

void DnsDiscovery::stop() {
  net::post(executor_, [this] {
    stopped_ = true;
    timer_.cancel();
  });
}

void DnsDiscovery::apply(const std::set<std::string>& urls, Clock::time_point now) {
  if (urls.empty() && !owned_.empty()) {
    log_.warn("workers-dns " + options_.name + ": empty answer ignored");
    return;
  }
  for (const auto& url : urls) {
    if (owned_.count(url)) {
      if (draining_.erase(url)) (void)registry_.drain(url, false);  // came back
      continue;
    }
    if (registry_.find(url)) continue;  // configured elsewhere: not ours
    auto added = registry_.add(url);
    if (added.ok()) {
      owned_.insert(url);
    } else {
      log_.warn("workers-dns: cannot add " + url + ": " + added.error().message);
    }
  }
  for (const auto& url : owned_) {
    if (urls.count(url) || draining_.count(url)) continue;
    (void)registry_.drain(url, true);
    draining_.emplace(url, now + options_.drain_grace);
    log_.info("workers-dns: " + url + " left the answer; draining");
  }
  for (auto it = draining_.begin(); it != draining_.end();) {
    const auto worker = registry_.find(it->first);
    if (worker && worker->in_flight() > 0 && now < it->second) {
      ++it;
      continue;
    }
    (void)registry_.remove(it->first);
    owned_.erase(it->first);
    it = draining_.erase(it);
  }
}

awaitable<void> DnsDiscovery::loop() {
  tcp::resolver resolver(executor_);
  while (!stopped_) {
    auto [ec, results] = co_await resolver.async_resolve(options_.name, options_.port, use_tuple);
    if (stopped_) break;
    if (ec) {
      log_.warn("workers-dns " + options_.name + ": " + ec.message());
    } else {
      std::set<std::string> urls;
      for (const auto& entry : results) {
        const auto address = entry.endpoint().address();
        const std::string host =
            address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
        urls.insert("http://" + host + ":" + options_.port);
      }
      apply(urls);
    }
    timer_.expires_after(options_.interval);
    auto [tec] = co_await timer_.async_wait(use_tuple);
    if (tec) break;
  }
}

}  // namespace radixmesh::router
