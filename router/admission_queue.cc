#include "router/admission_queue.h"

#include <algorithm>
#include <array>

#include "router/byte_stream.h"

namespace radixmesh::router {

struct AdmissionQueue::Waiter {
  Waiter(const net::any_io_executor& ex, std::string m, std::vector<radix::WorkerId> w)
      : executor(ex), timer(ex), model(std::move(m)), workers(std::move(w)) {}
  net::any_io_executor executor;
  net::steady_timer timer;  // the waiter's thread only
  const std::string model;
  std::vector<radix::WorkerId> workers;            // guarded by mu_; empty: any release
  bool wake_pending = false;                       // guarded by mu_: a wake-up is posted
  bool notified = false;                           // the waiter's thread only
  bool gone = false;                               // the waiter's thread only
  bool watching = false;                           // the waiter's thread only
  std::array<unsigned char, kPeekBytes> peeked{};  // MSG_PEEK target
};

bool AdmissionQueue::has_waiters(const std::string& model) const {
  if (waiting_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard lock(mu_);
  for (const auto& w : queue_) {
    if (w->model == model) return true;
  }
  return false;
}

std::shared_ptr<AdmissionQueue::Waiter> AdmissionQueue::enqueue(
    const net::any_io_executor& ex, const std::string& model,
    const std::vector<radix::WorkerId>& workers) {
  auto w = std::make_shared<Waiter>(ex, model, workers);
  std::lock_guard lock(mu_);
  if (queue_.size() >= options_.max_queue) return nullptr;
  queue_.push_back(w);
  waiting_.store(queue_.size(), std::memory_order_relaxed);
  if (metrics_.depth) metrics_.depth->set(static_cast<double>(queue_.size()));
  return w;
}

void AdmissionQueue::remove(const std::shared_ptr<Waiter>& w) {
  std::lock_guard lock(mu_);
  queue_.remove(w);
  waiting_.store(queue_.size(), std::memory_order_relaxed);
  if (metrics_.depth) metrics_.depth->set(static_cast<double>(queue_.size()));
}

void AdmissionQueue::rearm(const std::shared_ptr<Waiter>& w,
                           const std::vector<radix::WorkerId>& workers) {
  std::lock_guard lock(mu_);
  w->wake_pending = false;
  w->workers = workers;
}

void AdmissionQueue::slot_freed(radix::WorkerId worker) {
  if (waiting_.load(std::memory_order_relaxed) == 0) return;
  std::shared_ptr<Waiter> woken;
  {
    std::lock_guard lock(mu_);
    for (const auto& w : queue_) {
      if (w->wake_pending) continue;
      if (!w->workers.empty() &&
          std::find(w->workers.begin(), w->workers.end(), worker) == w->workers.end()) {
        continue;
      }
      w->wake_pending = true;
      woken = w;
      break;
    }
  }
  if (!woken) return;
  const net::any_io_executor ex = woken->executor;
  net::post(ex, [w = std::move(woken)] {  // the waiter's thread
    w->notified = true;
    w->timer.cancel();
  });
}

awaitable<Admission> AdmissionQueue::admit(tcp::socket& client, const RoutingEngine& engine,
                                           RoutingScratch& scratch, const PreparedRequest& request,
                                           bool client_tls) {
  Admission out;
  const std::span<const radix::WorkerId> none;
  if (!has_waiters(request.model)) {
    out.choice = engine.choose(scratch, request, none);
    if (out.choice.ok() || scratch.at_cap.empty()) co_return out;
  }
  // Saturated (or behind earlier waiters of the same model): queue.
  std::shared_ptr<Waiter> w = enqueue(client.get_executor(), request.model, scratch.at_cap);
  if (!w) {
    out.outcome = Admission::Outcome::kQueueFull;
    if (metrics_.rejected_full) metrics_.rejected_full->inc();
    co_return out;
  }
  out.queued = true;
  const auto started = Clock::now();
  const auto deadline = started + options_.timeout;

  // Watch the client: EOF or an error while queued frees the place at once.
  w->watching = true;
  client.async_receive(net::buffer(w->peeked.data(), client_tls ? kPeekBytes : 1),
                       tcp::socket::message_peek, [w, client_tls](error_code ec, size_t n) {
                         if (!w->watching || ec == net::error::operation_aborted) return;
                         w->watching = false;
                         // Pipelined bytes: not a disconnect.
                         if (!ec && !peek_means_gone(client_tls, w->peeked.data(), n)) return;
                         w->gone = true;
                         w->timer.cancel();
                       });

  for (;;) {
    if (!w->notified && !w->gone) {
      w->timer.expires_at(std::min(deadline, Clock::now() + options_.recheck));
      co_await w->timer.async_wait(use_tuple);
    }
    w->notified = false;
    if (w->gone) {
      out.outcome = Admission::Outcome::kClientGone;
      if (metrics_.client_gone) metrics_.client_gone->inc();
      break;
    }
    out.choice = engine.choose(scratch, request, none);
    if (out.choice.ok() || scratch.at_cap.empty()) break;  // routed, or not a cap problem
    if (Clock::now() >= deadline) {
      out.outcome = Admission::Outcome::kTimeout;
      if (metrics_.rejected_timeout) metrics_.rejected_timeout->inc();
      break;
    }
    rearm(w, scratch.at_cap);
  }
  remove(w);
  if (w->watching) {
    w->watching = false;
    error_code ignored;
    client.cancel(ignored);  // only the watch is pending on the socket here
  }
  out.waited = Clock::now() - started;
  if (metrics_.wait_seconds) {
    metrics_.wait_seconds->observe(std::chrono::duration<double>(out.waited).count());
  }
  co_return out;
}

}  // namespace radixmesh::router
