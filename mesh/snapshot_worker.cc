#include "mesh/snapshot_worker.h"

#include <chrono>

namespace radixmesh::mesh {

SnapshotWorker::SnapshotWorker(size_t max_jobs) : max_jobs_(max_jobs), thread_([this] { run(); }) {}

SnapshotWorker::~SnapshotWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  thread_.join();
}

bool SnapshotWorker::submit(Job job) {
  if (pending_ >= max_jobs_) return false;
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  ++pending_;
  cv_.notify_all();
  return true;
}

size_t SnapshotWorker::poll() {
  std::deque<std::function<void()>> done;
  {
    std::lock_guard lock(mu_);
    done.swap(done_);
  }
  for (auto& f : done) {
    --pending_;
    if (f) f();
  }
  return done.size();
}

bool SnapshotWorker::wait_idle(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return done_.size() >= pending_; });
}

void SnapshotWorker::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    std::function<void()> completion = job();  // never under the lock
    lock.lock();
    done_.push_back(std::move(completion));
    cv_.notify_all();
  }
}

}  // namespace radixmesh::mesh
