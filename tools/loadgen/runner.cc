#include "tools/loadgen/runner.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace radixmesh::tools::loadgen {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

Runner::Runner(asio::io_context& ioc, const LoadgenOptions& opts, std::vector<Session> sessions,
               std::vector<std::unique_ptr<HttpTarget>> targets, RunStats& stats,
               SampleLog* samples)
    : ioc_(ioc),
      opts_(opts),
      sessions_(std::move(sessions)),
      targets_(std::move(targets)),
      stats_(stats),
      samples_(samples),
      rng_(opts.seed * 0x9e3779b97f4a7c15ull + 7) {
  uint64_t total = 0;
  for (const Session& s : sessions_) total += s.user_turns.size();
  limit_ = opts.requests > 0 ? std::min(opts.requests, total) : total;
  for (Session& s : sessions_) ready_.push_back(&s);
}

bool Runner::may_send() const {
  return started_ < limit_ && Clock::now() < deadline_;
}

HttpTarget& Runner::pick_target(const Session& s) {
  const size_t n = targets_.size();
  if (opts_.pinned) return *targets_[s.pin_key % n];
  return *targets_[std::uniform_int_distribution<size_t>(0, n - 1)(rng_)];
}

void Runner::notify_all() {
  for (auto& t : parked_) t->cancel();
  parked_.clear();
}

asio::awaitable<void> Runner::park(Clock::time_point until) {
  auto t = std::make_shared<asio::steady_timer>(ioc_, until);
  parked_.push_back(t);
  co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<Session*> Runner::take_ready() {
  for (;;) {
    if (!may_send()) co_return nullptr;
    if (!ready_.empty()) {
      Session* s = ready_.front();
      ready_.pop_front();
      ++started_;
      co_return s;
    }
    if (in_flight_ == 0 && thinking_ == 0) co_return nullptr;  // nothing can become ready
    co_await park(deadline_);
  }
}

asio::awaitable<void> Runner::send_turn(Session* s) {
  ++in_flight_;
  HttpTarget& target = pick_target(*s);
  ExchangeRequest req;
  req.path = api_path(opts_.api);
  req.body = next_request_body(*s, opts_);
  req.api = opts_.api;
  req.stream = opts_.stream;
  req.timeout = std::chrono::milliseconds(opts_.timeout_ms);
  req.connect_timeout = std::chrono::milliseconds(opts_.connect_timeout_ms);
  if (!opts_.session_header.empty()) {
    req.extra_header = opts_.session_header;
    req.extra_value = "s-" + std::to_string(s->id);
  }
  const auto sent_at = Clock::now();
  Outcome out = co_await target.exchange(req);
  stats_.record(out);
  if (samples_) {
    const double start_ms = std::chrono::duration<double, std::milli>(sent_at - t0_).count();
    samples_->write(*s, s->next_turn, target.url(), start_ms, out);
  }
  if (out.cause == Cause::kOk) {
    s->replies.push_back(std::move(out.reply));
    ++s->next_turn;
    if (!s->done()) {
      if (opts_.think_ms > 0) {
        ++thinking_;
        asio::co_spawn(ioc_, requeue_after_think(s), asio::detached);
      } else {
        ready_.push_back(s);
      }
    }
  }
  --in_flight_;
  notify_all();
}

asio::awaitable<void> Runner::requeue_after_think(Session* s) {
  asio::steady_timer timer(ioc_, std::chrono::milliseconds(opts_.think_ms));
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  ready_.push_back(s);
  --thinking_;
  notify_all();
}

asio::awaitable<void> Runner::closed_worker() {
  while (Session* s = co_await take_ready()) co_await send_turn(s);
  --workers_;
  notify_all();
}

asio::awaitable<void> Runner::open_loop() {
  std::exponential_distribution<double> gap(opts_.rate);
  auto next = Clock::now();
  asio::steady_timer timer(ioc_);
  for (;;) {
    next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(rng_)));
    if (next > deadline_) break;
    timer.expires_at(next);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    while (in_flight_ >= opts_.max_in_flight && Clock::now() < deadline_) co_await park(deadline_);
    Session* s = co_await take_ready();
    if (!s) break;
    asio::co_spawn(ioc_, send_turn(s), asio::detached);
  }
  // Drain: every request has its own deadline, so this ends.
  while (in_flight_ > 0) co_await park(Clock::time_point::max());
}

asio::awaitable<void> Runner::trace_loop() {
  ready_.clear();  // sessions go by their time, not through the ready queue
  asio::steady_timer timer(ioc_);
  for (Session& s : sessions_) {
    if (!may_send()) break;
    const auto due =
        t0_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(
                  s.send_at_ms / std::max(opts_.trace_speedup, 1e-3)));
    if (due > deadline_) break;
    timer.expires_at(due);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    while (in_flight_ >= opts_.max_in_flight && Clock::now() < deadline_) co_await park(deadline_);
    if (!may_send()) break;
    ++started_;
    asio::co_spawn(ioc_, send_turn(&s), asio::detached);
  }
  while (in_flight_ > 0) co_await park(Clock::time_point::max());
}

asio::awaitable<void> Runner::run() {
  deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(opts_.duration_s));
  stats_.start();
  t0_ = Clock::now();
  if (!opts_.trace_path.empty()) {
    co_await trace_loop();
    co_return;
  }
  if (opts_.rate > 0) {
    co_await open_loop();
    co_return;
  }
  workers_ = opts_.concurrency;
  for (uint32_t i = 0; i < opts_.concurrency; ++i)
    asio::co_spawn(ioc_, closed_worker(), asio::detached);
  while (workers_ > 0) co_await park(Clock::time_point::max());
}

}  // namespace radixmesh::tools::loadgen
