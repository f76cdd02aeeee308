// SnapshotWorker: one background thread that builds and merges snapshots, so
// the mesh io thread keeps answering probes and applying deltas meanwhile
// (encoding or merging a 1M-block tree takes a few hundred milliseconds).
//
// The engine submits a job (runs on the worker thread; it may only touch
// thread-safe objects: trees, the worker directory) and a completion (runs
// later on the engine's thread, inside poll(), and may touch engine state).
// The queue is bounded: submit() returns false when max_jobs are pending.
// Destruction waits for the running job to finish (bounded by one job's
// duration), drops queued ones and their completions.
//
// Threads: submit/poll/pending from the engine's thread only; the worker
// thread runs jobs and nothing else.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace radixmesh::mesh {

class SnapshotWorker {
 public:
  using Job = std::function<std::function<void()>()>;  // returns the completion

  explicit SnapshotWorker(size_t max_jobs);
  ~SnapshotWorker();
  SnapshotWorker(const SnapshotWorker&) = delete;
  SnapshotWorker& operator=(const SnapshotWorker&) = delete;

  bool submit(Job job);
  // Runs the completions of finished jobs; returns how many ran.
  size_t poll();
  // Jobs submitted whose completion has not run yet.
  size_t pending() const { return pending_; }
  // Test support: waits (bounded) until every submitted job finished.
  bool wait_idle(int timeout_ms);

 private:
  void run();

  const size_t max_jobs_;
  size_t pending_ = 0;  // engine thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;                    // guarded by mu_
  std::deque<std::function<void()>> done_;  // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  std::thread thread_;
};

}  // namespace radixmesh::mesh
