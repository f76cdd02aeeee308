// SyncEngine, snapshots: requesting, building (coalesced), sending, merging.
#include "mesh/sync_codec.h"
#include "mesh/sync_engine.h"
#include "radix/prefix_tree.h"
#include "radix/snapshot_codec.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"

namespace radixmesh::mesh {

void SyncEngine::want_snapshot(const NodeId& from, const std::string& model) {
  auto it = wanted_.find(model);
  if (it != wanted_.end()) return;  // one request per model at a time
  wanted_.emplace(model, Wanted{from, now_ms_});
  SyncStats::bump(stats_.snapshots_requested);
  send(from, FrameType::kSnapshotRequest, encode(SnapshotRequest{model}));
}

void SyncEngine::queue_snapshot(const NodeId& to, const std::string& model) {
  to_send_[model].insert(to);
}

void SyncEngine::queue_all_snapshots(const NodeId& to) {
  for (const auto& [model, tree] : trees_.all()) queue_snapshot(to, model);
}

void SyncEngine::handle_snapshot_request(const NodeId& from, const SnapshotRequest& q) {
  if (q.model.empty())
    queue_all_snapshots(from);
  else
    queue_snapshot(from, q.model);
}

// Every peer waiting for a model is served from one build (coalescing).
void SyncEngine::flush_snapshots() {
  for (auto& [model, peers] : to_send_) {
    if (peers.empty()) continue;
    auto tree = trees_.find(model);
    if (!tree) {
      peers.clear();
      continue;
    }
    const uint64_t version = version_[model];
    Cached& c = cache_[model];
    bool rebuild = !c.blob;
    if (!rebuild && c.version != version)
      for (const auto& p : peers) {
        auto pit = peers_.find(p);
        // A peer that was up when the blob was built got every later change
        // as a delta; one that came up later needs a fresh blob.
        if (pit == peers_.end() || pit->second.up_round >= c.round) rebuild = true;
      }
    if (rebuild) {
      auto blob = radix::encode_snapshot(*tree, workers_);
      if (!blob.ok()) {
        peers.clear();
        continue;
      }
      c = Cached{std::make_shared<const std::string>(std::move(*blob)), version, round_, now_ms_};
      SyncStats::bump(stats_.snapshots_built);
    }
    if (c.blob->size() > cfg_.max_send_snapshot_bytes) {
      SyncStats::bump(stats_.snapshots_rejected);
      peers.clear();
      continue;
    }
    for (const auto& p : peers) {
      snapshot_sender_.start(p, model, c.blob);
      SyncStats::bump(stats_.snapshot_bytes_sent, c.blob->size());
    }
    peers.clear();
  }
  size_t done = 0;
  snapshot_sender_.pump(
      [this](const NodeId& to, FrameType t, std::string p) { return send(to, t, std::move(p)); },
      cfg_.max_snapshot_chunks_per_pump, &done);
  SyncStats::bump(stats_.snapshots_sent, done);
}

void SyncEngine::handle_snapshot_chunk(const NodeId& from, const SnapshotChunk& chunk) {
  auto r = assembler_.add(from, chunk, now_ms_);
  if (!r.ok()) {
    SyncStats::bump(stats_.snapshots_rejected);
    return reject(r.error());
  }
  if (!r->has_value()) return;
  auto& done = **r;
  auto tree_or = trees_.get_or_create(done.model);
  if (!tree_or.ok()) {
    SyncStats::bump(stats_.snapshots_rejected);
    return;
  }
  Status st = [&] {
    DeltaJournal::RemoteScope remote;
    return radix::merge_snapshot(done.blob, **tree_or, workers_, cfg_.max_decoded_snapshot_bytes);
  }();
  if (!st.ok()) {
    SyncStats::bump(stats_.snapshots_rejected);
    return reject(st.error());
  }
  SyncStats::bump(stats_.snapshots_received);
  SyncStats::bump(stats_.snapshot_bytes_received, done.blob.size());
  version_[done.model] += 1;
  auto w = wanted_.find(done.model);
  if (w != wanted_.end() && w->second.from == from) wanted_.erase(w);
  // Inserts parked on anchors the snapshot brought are now applicable.
  for (const auto& [peer, ps] : peers_) retry_parked(peer, done.model);
  retry_parked(from, done.model);
}

void SyncEngine::snapshot_housekeeping() {
  SyncStats::bump(stats_.snapshots_expired, assembler_.expire(now_ms_));
  // A request that produced nothing (dropped, peer too busy): ask again.
  for (auto it = wanted_.begin(); it != wanted_.end();) {
    if (now_ms_ >= it->second.requested_ms + cfg_.snapshot_request_timeout_ms) {
      const NodeId from = it->second.from;
      const std::string model = it->first;
      it = wanted_.erase(it);
      if (peers_.count(from) != 0) want_snapshot(from, model);
    } else {
      ++it;
    }
  }
  // Proactive builds, off the request path: on change count, or on age with
  // a minimum change count. Requests then reuse the blob when they can.
  for (const auto& [model, version] : version_) {
    Cached& c = cache_[model];
    const uint64_t changes = version - c.version;
    const bool by_count =
        cfg_.snapshot_change_trigger != 0 && changes >= cfg_.snapshot_change_trigger;
    const bool by_age =
        now_ms_ >= c.built_ms + cfg_.snapshot_stale_ms && changes >= cfg_.snapshot_min_changes;
    if (!by_count && !by_age) continue;
    auto tree = trees_.find(model);
    if (!tree) continue;
    auto blob = radix::encode_snapshot(*tree, workers_);
    if (!blob.ok()) continue;
    c = Cached{std::make_shared<const std::string>(std::move(*blob)), version, round_, now_ms_};
    SyncStats::bump(stats_.snapshots_built);
  }
}

}  // namespace radixmesh::mesh
