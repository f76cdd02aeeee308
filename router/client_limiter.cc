#include "router/client_limiter.h"

#include <functional>
#include <string_view>

namespace radixmesh::router {

size_t ClientLimiter::Hash::operator()(const net::ip::address& a) const {
  if (a.is_v4()) return std::hash<uint32_t>{}(a.to_v4().to_uint());
  const auto bytes = a.to_v6().to_bytes();
  return std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

ClientLimiter::Slot ClientLimiter::acquire(const net::ip::address& address) {
  Slot slot;
  if (max_ == 0) return slot;
  std::lock_guard lock(mu_);
  size_t& n = counts_[address];
  if (n >= max_) {
    slot.ok_ = false;
    return slot;  // n >= 1: the entry stays for the requests in flight
  }
  ++n;
  slot.limiter_ = this;
  slot.address_ = address;
  slot.held_ = true;
  return slot;
}

void ClientLimiter::release(const net::ip::address& address) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(address);
  if (it == counts_.end()) return;
  if (--it->second == 0) counts_.erase(it);
}

size_t ClientLimiter::in_flight(const net::ip::address& address) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(address);
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace radixmesh::router
