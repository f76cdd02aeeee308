#include "tools/sim_worker/admission.h"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace radixmesh::tools::sim {

Admission::Try Admission::try_acquire(const std::shared_ptr<Waiter>& w) {
  std::lock_guard lock(mu_);
  if (in_flight_ < slots_ && queue_.empty()) {
    ++in_flight_;
    w->granted = true;
    return Try::kGranted;
  }
  if (queue_.size() >= max_queue_) return Try::kRejected;
  queue_.push_back(w);
  return Try::kQueued;
}

bool Admission::granted(const std::shared_ptr<Waiter>& w) {
  std::lock_guard lock(mu_);
  return w->granted;
}

void Admission::abandon(const std::shared_ptr<Waiter>& w) {
  {
    std::lock_guard lock(mu_);
    if (!w->granted) {
      auto it = std::find(queue_.begin(), queue_.end(), w);
      if (it != queue_.end()) queue_.erase(it);
      return;
    }
  }
  release();
}

void Admission::release() {
  std::shared_ptr<Waiter> next;
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) {
      if (in_flight_ > 0) --in_flight_;
      return;
    }
    next = std::move(queue_.front());
    queue_.pop_front();
    next->granted = true;  // the slot passes on; in_flight_ is unchanged
  }
  auto ex = next->timer.get_executor();
  boost::asio::post(ex, [next] { next->timer.cancel(); });
}

uint32_t Admission::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

uint32_t Admission::queued() const {
  std::lock_guard lock(mu_);
  return static_cast<uint32_t>(queue_.size());
}

}  // namespace radixmesh::tools::sim
