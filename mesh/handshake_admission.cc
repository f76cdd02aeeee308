#include "mesh/handshake_admission.h"

#include <algorithm>

namespace radixmesh::mesh {

HandshakeAdmission::HandshakeAdmission(Options options) : options_(options) {
  options_.max_pending = std::max<size_t>(options_.max_pending, 1);
  options_.max_per_source = std::max<size_t>(options_.max_per_source, 1);
}

size_t HandshakeAdmission::pending_from(const std::string& source) const {
  auto it = per_source_.find(source);
  return it == per_source_.end() ? 0 : it->second;
}

HandshakeAdmission::Entries::iterator HandshakeAdmission::pick(const std::string* source,
                                                               const SpokeFn& spoke) {
  auto oldest = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (source && it->source != *source) continue;
    if (!it->heard && spoke && spoke(it->id)) it->heard = true;
    if (!it->heard) return it;  // the oldest silent one
    if (oldest == entries_.end()) oldest = it;
  }
  return oldest;
}

HandshakeAdmission::Entries::iterator HandshakeAdmission::erase(Entries::iterator it) {
  auto s = per_source_.find(it->source);
  if (s != per_source_.end() && --s->second == 0) per_source_.erase(s);
  return entries_.erase(it);
}

std::optional<HandshakeAdmission::Eviction> HandshakeAdmission::admit(uint64_t id,
                                                                      const std::string& source,
                                                                      const SpokeFn& spoke) {
  std::optional<Eviction> out;
  auto victim = entries_.end();
  if (pending_from(source) >= options_.max_per_source) {
    victim = pick(&source, spoke);
    if (victim != entries_.end()) out = Eviction{victim->id, Cap::kPerSource};
  } else if (entries_.size() >= options_.max_pending) {
    victim = pick(nullptr, spoke);
    if (victim != entries_.end()) out = Eviction{victim->id, Cap::kGlobal};
  }
  if (victim != entries_.end()) erase(victim);
  entries_.push_back(Entry{id, source});
  ++per_source_[source];
  return out;
}

void HandshakeAdmission::heard_from(uint64_t id) {
  for (auto& e : entries_) {
    if (e.id == id) {
      e.heard = true;
      return;
    }
  }
}

void HandshakeAdmission::remove(uint64_t id) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->id == id) {
      erase(it);
      return;
    }
  }
}

}  // namespace radixmesh::mesh
