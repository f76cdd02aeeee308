#include "router/body_budget.h"

namespace radixmesh::router {

bool BodyBudget::try_reserve(size_t n) {
  size_t cur = reserved_.load(std::memory_order_relaxed);
  do {
    if (n > limit_ || cur > limit_ - n) return false;
  } while (!reserved_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  return true;
}

void BodyBudget::release(size_t n) {
  reserved_.fetch_sub(n, std::memory_order_relaxed);
}

bool BodyReservation::set(size_t bytes) {
  if (budget_ != nullptr) {
    if (bytes > bytes_) {
      if (!budget_->try_reserve(bytes - bytes_)) return false;
    } else if (bytes < bytes_) {
      budget_->release(bytes_ - bytes);
    }
  }
  bytes_ = bytes;
  return true;
}

}  // namespace radixmesh::router
