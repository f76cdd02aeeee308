// Runner: drives the sessions of a workload against the targets.
//
// Sessions wait in a FIFO ready queue. A session leaves it while one of its
// turns is in flight and comes back to the tail when the reply arrives (so
// the turns of one conversation are strictly in order, and all conversations
// progress interleaved). A failed turn ends its session: its history would
// lack the reply.
//   closed loop  --concurrency workers each take the next ready session,
//                send one turn, wait for it, repeat
//   open loop    Poisson arrivals at --rate; each arrival sends the next
//                ready turn (waiting for one if all are in flight), with at
//                most --max-in-flight outstanding
//   trace        --trace: each one-turn session at its own time
//                (send_at_ms / --trace-speedup), at most --max-in-flight
//                outstanding (a late one is sent as soon as a slot frees)
// Bounds: at most --requests turns are sent, none after --duration; every
// request has a deadline (--timeout-ms), so run() always ends.
//
// Thread safety: single-threaded; run() and everything it spawns live on one
// io_context run by one thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "tools/loadgen/http_target.h"
#include "tools/loadgen/run_stats.h"
#include "tools/loadgen/sample_log.h"
#include "tools/loadgen/workload.h"

namespace radixmesh::tools::loadgen {

class Runner {
 public:
  // `samples` may be null (no per-request log).
  Runner(boost::asio::io_context& ioc, const LoadgenOptions& opts, std::vector<Session> sessions,
         std::vector<std::unique_ptr<HttpTarget>> targets, RunStats& stats, SampleLog* samples);

  // Turns that the bounds allow at most (the workload, capped by --requests).
  uint64_t planned() const { return limit_; }

  // Sends the workload; completes when every request sent has ended.
  boost::asio::awaitable<void> run();

 private:
  boost::asio::awaitable<void> closed_worker();
  boost::asio::awaitable<void> open_loop();
  // Trace replay: session i at t0 + send_at_ms / --trace-speedup.
  boost::asio::awaitable<void> trace_loop();
  boost::asio::awaitable<void> send_turn(Session* s);
  // A conversation's next turn becomes ready only after --think-ms, as a
  // person reads the reply before typing (and as gossip gets a round to run).
  boost::asio::awaitable<void> requeue_after_think(Session* s);
  // The next session with a turn to send, or nullptr when nothing more will
  // be sent (bounds reached, or no session can ever become ready).
  boost::asio::awaitable<Session*> take_ready();
  // Parks until notify_all() or `until`.
  boost::asio::awaitable<void> park(std::chrono::steady_clock::time_point until);
  void notify_all();
  bool may_send() const;
  HttpTarget& pick_target(const Session& s);

  boost::asio::io_context& ioc_;
  const LoadgenOptions& opts_;
  std::vector<Session> sessions_;
  std::vector<std::unique_ptr<HttpTarget>> targets_;
  RunStats& stats_;
  SampleLog* samples_;
  std::chrono::steady_clock::time_point t0_;
  std::mt19937_64 rng_;
  uint64_t limit_ = 0;
  uint64_t started_ = 0;    // turns taken for sending
  uint64_t in_flight_ = 0;  // turns sent, not yet ended
  uint64_t thinking_ = 0;   // sessions waiting out --think-ms before their next turn
  uint32_t workers_ = 0;    // closed-loop workers still running
  std::deque<Session*> ready_;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> parked_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace radixmesh::tools::loadgen
