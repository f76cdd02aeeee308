#include "mesh/load_board.h"

#include <algorithm>
#include <cmath>

namespace radixmesh::mesh {

LoadBoard::LoadBoard(LoadBoardConfig cfg, Clock now_ms) : cfg_(cfg), now_ms_(std::move(now_ms)) {}

void LoadBoard::local_started(WorkerKey w) {
  std::lock_guard lock(mu_);
  ++local_[w];
}

void LoadBoard::local_finished(WorkerKey w) {
  std::lock_guard lock(mu_);
  auto it = local_.find(w);
  if (it == local_.end()) return;
  if (it->second <= 1)
    local_.erase(it);
  else
    --it->second;
}

void LoadBoard::set_local(WorkerKey w, uint64_t in_flight) {
  std::lock_guard lock(mu_);
  if (in_flight == 0)
    local_.erase(w);
  else
    local_[w] = in_flight;
}

uint64_t LoadBoard::local_in_flight(WorkerKey w) const {
  std::lock_guard lock(mu_);
  auto it = local_.find(w);
  return it == local_.end() ? 0 : it->second;
}

double LoadBoard::weight(uint64_t at_ms, uint64_t now) const {
  uint64_t age = now > at_ms ? now - at_ms : 0;
  if (age <= cfg_.fresh_ms) return 1.0;
  if (age >= cfg_.expire_ms || cfg_.expire_ms <= cfg_.fresh_ms) return 0.0;
  return static_cast<double>(cfg_.expire_ms - age) /
         static_cast<double>(cfg_.expire_ms - cfg_.fresh_ms);
}

uint64_t LoadBoard::mesh_in_flight(WorkerKey w) const {
  const uint64_t now = now_ms_();
  std::lock_guard lock(mu_);
  double sum = 0;
  for (const auto& [peer, rep] : peers_) {
    auto it = rep.in_flight.find(w);
    if (it != rep.in_flight.end()) sum += weight(rep.at_ms, now) * static_cast<double>(it->second);
  }
  return static_cast<uint64_t>(std::llround(sum));
}

uint64_t LoadBoard::total_in_flight(WorkerKey w) const {
  return local_in_flight(w) + mesh_in_flight(w);
}

void LoadBoard::on_peer_report(const std::string& peer, const LoadReport& report) {
  PeerReport rep;
  rep.at_ms = now_ms_();
  for (const auto& e : report.entries) {
    if (rep.in_flight.size() >= cfg_.max_workers_per_peer) break;
    if (e.in_flight != 0) rep.in_flight[e.worker] = e.in_flight;
  }
  std::lock_guard lock(mu_);
  auto& slot = peers_[peer];
  for (const auto& [w, n] : slot.in_flight) mark_changed_locked(w);
  for (const auto& [w, n] : rep.in_flight) mark_changed_locked(w);
  slot = std::move(rep);
}

void LoadBoard::on_peer_delta(const std::string& peer, const LoadReport& changes) {
  const uint64_t now = now_ms_();
  std::lock_guard lock(mu_);
  auto& rep = peers_[peer];
  rep.at_ms = now;
  for (const auto& e : changes.entries) {
    if (e.in_flight == 0) {
      rep.in_flight.erase(e.worker);
    } else if (rep.in_flight.size() < cfg_.max_workers_per_peer ||
               rep.in_flight.count(e.worker) != 0) {
      rep.in_flight[e.worker] = e.in_flight;
    }
    mark_changed_locked(e.worker);
  }
}

void LoadBoard::on_peer_down(const std::string& peer) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  for (const auto& [w, n] : it->second.in_flight) mark_changed_locked(w);
  peers_.erase(it);
}

void LoadBoard::mark_changed_locked(WorkerKey w) {
  if (changed_.all) return;
  if (changed_.keys.size() >= kMaxChangedKeys) {
    changed_.all = true;
    changed_.keys.clear();
    return;
  }
  changed_.keys.push_back(w);
}

LoadBoard::Changed LoadBoard::take_changed() {
  std::lock_guard lock(mu_);
  Changed out = std::move(changed_);
  changed_ = {};
  std::sort(out.keys.begin(), out.keys.end());
  out.keys.erase(std::unique(out.keys.begin(), out.keys.end()), out.keys.end());
  return out;
}

void LoadBoard::expire() {
  const uint64_t now = now_ms_();
  std::lock_guard lock(mu_);
  std::erase_if(peers_, [&](const auto& kv) {
    return now - kv.second.at_ms >= cfg_.expire_ms && now >= kv.second.at_ms;
  });
}

LoadReport LoadBoard::local_report() const {
  LoadReport r;
  std::lock_guard lock(mu_);
  r.entries.reserve(local_.size());
  for (const auto& [w, n] : local_) r.entries.push_back({w, n});
  std::sort(r.entries.begin(), r.entries.end(),
            [](const auto& a, const auto& b) { return a.worker < b.worker; });
  return r;
}

size_t LoadBoard::peer_count() const {
  std::lock_guard lock(mu_);
  return peers_.size();
}

}  // namespace radixmesh::mesh
