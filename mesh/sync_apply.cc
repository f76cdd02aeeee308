// SyncEngine, receive side of deltas: batches, anchors, worker events.
#include <algorithm>

#include "mesh/sync_codec.h"
#include "mesh/sync_engine.h"
#include "radix/hlc.h"
#include "radix/prefix_tree.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"

namespace radixmesh::mesh {

void SyncEngine::handle_batch(const NodeId& from, const DeltaBatch& b) {
  uint64_t max_ts = 0;
  for (const auto& e : b.events) {
    max_ts = std::max(max_ts, e.ts);
    apply_event(from, e);
  }
  for (const auto& md : b.models) {
    auto tree_or = trees_.get_or_create(md.model);
    if (!tree_or.ok()) {  // too many models: the rest of the mesh keeps it
      SyncStats::bump(stats_.rejected_too_large);
      continue;
    }
    radix::PrefixTree& tree = **tree_or;
    std::vector<const DeltaRecord*> deferred;
    for (const auto& rec : md.records) {
      max_ts = std::max(max_ts, rec.ts);
      if (!apply_record(from, tree, md.model, rec)) deferred.push_back(&rec);
    }
    // Anchors created later in the same batch (or a record order we do not
    // rely on): retry until nothing more resolves.
    for (bool progress = true; progress && !deferred.empty();) {
      progress = false;
      std::vector<const DeltaRecord*> still;
      for (const DeltaRecord* rec : deferred) {
        if (apply_record(from, tree, md.model, *rec))
          progress = true;
        else
          still.push_back(rec);
      }
      deferred.swap(still);
    }
    for (const DeltaRecord* rec : deferred) park(from, md.model, *rec);
    version_[md.model] += md.records.size();
    retry_parked(from, md.model);  // a reordered earlier batch may complete them
  }
  if (max_ts != 0) clock_.observe(radix::Hlc{max_ts});
  SyncStats::bump(stats_.batches_applied);
}

bool SyncEngine::apply_record(const NodeId& from, radix::PrefixTree& tree, const std::string& model,
                              const DeltaRecord& rec) {
  auto id = workers_.find_key(rec.worker);
  if (!id) {
    // A worker this node has never seen: its snapshot carries the URL.
    SyncStats::bump(stats_.records_unknown_worker);
    want_snapshot(from, model);
    return true;
  }
  const radix::Hlc ts{rec.ts};
  if (rec.kind == DeltaRecord::Kind::kEvict) {
    tree.apply(radix::EvictRecord{*id, rec.anchor, ts});
    SyncStats::bump(stats_.evictions_applied);
    return true;
  }
  Status st = tree.apply(radix::InsertRecord{*id, rec.anchor, rec.blocks, ts});
  if (!st.ok()) {
    if (st.error().code == ErrorCode::kNotFound) return false;
    SyncStats::bump(stats_.records_refused);
    return true;
  }
  SyncStats::bump(stats_.inserts_applied);
  SyncStats::bump(stats_.blocks_applied, rec.blocks.size());
  const uint64_t wall = cfg_.wall_ms ? cfg_.wall_ms() : radix::system_physical_ms();
  const uint64_t phys = ts.physical_ms();
  stats_.observe_lag(wall > phys ? wall - phys : 0);
  return true;
}

void SyncEngine::park(const NodeId& from, const std::string& model, DeltaRecord rec) {
  if (parked_records_ >= cfg_.max_parked_records) {
    SyncStats::bump(stats_.anchors_fell_back);
    want_snapshot(from, model);
    return;
  }
  auto [it, fresh] = parked_.try_emplace(ParkKey{from, model, rec.anchor});
  it->second.records.push_back(std::move(rec));
  ++parked_records_;
  if (fresh) {
    it->second.requested_ms = now_ms_;
    it->second.attempts = 1;
    SyncStats::bump(stats_.anchors_requested);
    send(from, FrameType::kAnchorRequest, encode(AnchorRequest{model, std::get<2>(it->first)}));
  }
}

void SyncEngine::retry_parked(const NodeId& from, const std::string& model) {
  auto tree = trees_.find(model);
  if (!tree) return;
  auto lo = parked_.lower_bound(ParkKey{from, model, 0});
  while (lo != parked_.end() && std::get<0>(lo->first) == from && std::get<1>(lo->first) == model) {
    if (!tree->contains(std::get<2>(lo->first))) {
      ++lo;
      continue;
    }
    for (const auto& rec : lo->second.records) apply_record(from, *tree, model, rec);
    SyncStats::bump(stats_.anchors_resolved);
    parked_records_ -= lo->second.records.size();
    lo = parked_.erase(lo);
  }
}

void SyncEngine::handle_anchor_request(const NodeId& from, const AnchorRequest& q) {
  AnchorReply reply;
  reply.model = q.model;
  reply.anchor = q.anchor;
  if (auto tree = trees_.find(q.model)) {
    if (auto chain = tree->chain_to(q.anchor)) {
      radix::MatchResult m = tree->match(*chain);
      for (const auto& t : m.tenants)
        if (t.blocks == chain->size())
          reply.tenants.push_back({workers_.key_of(t.worker), t.last_access.value});
      reply.chain = std::move(*chain);
    }
  }
  SyncStats::bump(stats_.anchors_answered);
  send(from, FrameType::kAnchorReply, encode(reply));
}

void SyncEngine::handle_anchor_reply(const NodeId& from, const AnchorReply& a) {
  auto it = parked_.find(ParkKey{from, a.model, a.anchor});
  if (it == parked_.end()) return;  // resolved meanwhile (a reordered batch)
  auto tree = trees_.find(a.model);
  if (a.chain.empty() || a.chain.back() != a.anchor || !tree) {
    // The peer no longer knows it either: its snapshot is the truth.
    SyncStats::bump(stats_.anchors_fell_back);
    parked_records_ -= it->second.records.size();
    parked_.erase(it);
    want_snapshot(from, a.model);
    return;
  }
  uint64_t max_ts = 0;
  for (const auto& t : a.tenants) {
    max_ts = std::max(max_ts, t.ts);
    if (auto id = workers_.find_key(t.worker))
      (void)tree->apply(radix::InsertRecord{*id, 0, a.chain, radix::Hlc{t.ts}});
  }
  // Each parked insert means "worker holds chain + blocks": apply it from the
  // root, so it lands even if no tenant of the chain was known here.
  for (const auto& rec : it->second.records) {
    DeltaRecord full = rec;
    full.anchor = 0;
    full.blocks.clear();
    full.blocks.reserve(a.chain.size() + rec.blocks.size());
    full.blocks.insert(full.blocks.end(), a.chain.begin(), a.chain.end());
    full.blocks.insert(full.blocks.end(), rec.blocks.begin(), rec.blocks.end());
    apply_record(from, *tree, a.model, full);
  }
  if (max_ts != 0) clock_.observe(radix::Hlc{max_ts});
  SyncStats::bump(stats_.anchors_resolved);
  parked_records_ -= it->second.records.size();
  parked_.erase(it);
  retry_parked(from, a.model);
}

void SyncEngine::expire_parked() {
  for (auto it = parked_.begin(); it != parked_.end();) {
    Parked& p = it->second;
    if (now_ms_ < p.requested_ms + cfg_.anchor_timeout_ms) {
      ++it;
      continue;
    }
    const auto& [peer, model, anchor] = it->first;
    if (p.attempts < cfg_.anchor_attempts) {
      ++p.attempts;
      p.requested_ms = now_ms_;
      SyncStats::bump(stats_.anchors_requested);
      send(peer, FrameType::kAnchorRequest, encode(AnchorRequest{model, anchor}));
      ++it;
      continue;
    }
    SyncStats::bump(stats_.anchors_fell_back);
    want_snapshot(peer, model);
    parked_records_ -= p.records.size();
    it = parked_.erase(it);
  }
}

void SyncEngine::apply_event(const NodeId& from, const WorkerEvent& e) {
  auto id = workers_.find_key(e.worker);
  switch (e.kind) {
    case WorkerEvent::Kind::kAdded:
      if (!id && !e.url.empty() && radix::WorkerDirectory::key_for_url(e.url) == e.worker) {
        auto interned = workers_.intern(e.url);
        if (interned.ok()) id = *interned;
      }
      break;
    case WorkerEvent::Kind::kRemoved:
      if (id) {
        DeltaJournal::RemoteScope remote;  // do not echo the removal back
        trees_.remove_worker_everywhere(*id);
      }
      break;
    case WorkerEvent::Kind::kUnhealthy:
    case WorkerEvent::Kind::kHealthy:
      break;
  }
  if (e.ts != 0) clock_.observe(radix::Hlc{e.ts});
  SyncStats::bump(stats_.worker_events_applied);
  if (on_worker_event_) on_worker_event_(from, e);
}

}  // namespace radixmesh::mesh
