#include "tools/sim_worker/kv_rooms.h"

namespace radixmesh::tools::sim {

void KvRoomTable::drop_expired(Clock::time_point now) {
  while (!order_.empty()) {
    auto it = rooms_.find(order_.front());
    if (now - it->second.born < ttl_) break;
    rooms_.erase(it);
    order_.pop_front();
    ++expired_;
  }
}

void KvRoomTable::put(const std::string& key, KvRoom room, Clock::time_point now) {
  std::lock_guard lock(mu_);
  drop_expired(now);
  if (auto it = rooms_.find(key); it != rooms_.end()) {
    order_.erase(it->second.order);
    rooms_.erase(it);
  }
  if (capacity_ == 0) return;
  while (rooms_.size() >= capacity_) {
    rooms_.erase(order_.front());
    order_.pop_front();
    ++evicted_;
  }
  order_.push_back(key);
  rooms_.emplace(key, Entry{std::move(room), now, std::prev(order_.end())});
}

std::optional<KvRoom> KvRoomTable::take(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  drop_expired(now);
  auto it = rooms_.find(key);
  if (it == rooms_.end()) return std::nullopt;
  KvRoom room = std::move(it->second.room);
  order_.erase(it->second.order);
  rooms_.erase(it);
  return room;
}

size_t KvRoomTable::size() const {
  std::lock_guard lock(mu_);
  return rooms_.size();
}

uint64_t KvRoomTable::evicted() const {
  std::lock_guard lock(mu_);
  return evicted_;
}

uint64_t KvRoomTable::expired() const {
  std::lock_guard lock(mu_);
  return expired_;
}

}  // namespace radixmesh::tools::sim
