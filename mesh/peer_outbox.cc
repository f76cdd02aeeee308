#include "mesh/peer_outbox.h"

namespace radixmesh::mesh {

bool PeerOutbox::push(uint64_t seq, Payload payload) {
  const size_t n = payload ? payload->size() : 0;
  if (bytes_ + n > cfg_.max_bytes || pending_.size() + 1 > cfg_.max_batches) {
    dropped_ += pending_.size() + 1;
    clear();
    needs_snapshot_ = true;
    return false;
  }
  auto [it, inserted] = pending_.try_emplace(seq, Entry{std::move(payload), 0, false});
  if (inserted) bytes_ += n;
  return true;
}

void PeerOutbox::ack(uint64_t seq) {
  auto it = pending_.find(seq);
  if (it == pending_.end()) return;
  bytes_ -= it->second.payload ? it->second.payload->size() : 0;
  pending_.erase(it);
}

std::vector<PeerOutbox::Due> PeerOutbox::due(uint64_t now_ms, bool resend) const {
  std::vector<Due> out;
  for (const auto& [seq, e] : pending_)
    if (!e.sent || (resend && now_ms >= e.sent_at_ms + cfg_.resend_after_ms))
      out.push_back({seq, e.payload});
  return out;
}

void PeerOutbox::mark_sent(uint64_t seq, uint64_t now_ms) {
  auto it = pending_.find(seq);
  if (it == pending_.end()) return;
  it->second.sent = true;
  it->second.sent_at_ms = now_ms;
}

void PeerOutbox::clear() {
  pending_.clear();
  bytes_ = 0;
}

}  // namespace radixmesh::mesh
