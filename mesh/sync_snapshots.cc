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
  if (worker_) worker_->poll();  // finished builds and merges
  for (auto& [model, peers] : to_send_) {
    if (peers.empty()) continue;
    if (!trees_.find(model)) {
      peers.clear();
      continue;
    }
    const Cached& c = cache_[model];
    if (c.blob) {
      // A blob whose build started after a peer came up covers it: every
      // later change reaches that peer as a delta. Unchanged: covers anyone.
      const bool unchanged = c.version == version_[model];
      for (auto it = peers.begin(); it != peers.end();) {
        auto pit = peers_.find(*it);
        if (pit == peers_.end()) {
          it = peers.erase(it);
        } else if (unchanged || pit->second.up_epoch < c.epoch) {
          start_transfer(*it, model, c.blob);
          it = peers.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (!peers.empty()) build_snapshot(model);  // served when it is ready
  }
  size_t done = 0;
  snapshot_sender_.pump(
      [this](const NodeId& to, FrameType t, std::string p) { return send(to, t, std::move(p)); },
      cfg_.max_snapshot_chunks_per_pump, &done);
  SyncStats::bump(stats_.snapshots_sent, done);
}

void SyncEngine::start_transfer(const NodeId& to, const std::string& model,
                                const std::shared_ptr<const std::string>& blob) {
  if (blob->size() > cfg_.max_send_snapshot_bytes) {
    SyncStats::bump(stats_.snapshots_rejected);
    return;
  }
  snapshot_sender_.start(to, model, blob);
  SyncStats::bump(stats_.snapshot_bytes_sent, blob->size());
}

void SyncEngine::build_snapshot(const std::string& model) {
  if (building_.count(model) != 0) return;  // coalesce: one build at a time
  auto tree = trees_.find(model);
  if (!tree) return;
  const uint64_t version = version_[model];
  const uint64_t epoch = ++epoch_;
  auto finish = [this, model, version, epoch](Result<std::string> blob) {
    building_.erase(model);
    if (!blob.ok()) {
      SyncStats::bump(stats_.snapshots_rejected);
      to_send_[model].clear();
      return;
    }
    cache_[model] =
        Cached{std::make_shared<const std::string>(std::move(*blob)), version, epoch, now_ms_};
    SyncStats::bump(stats_.snapshots_built);
  };
  building_.insert(model);
  if (!worker_) {
    finish(radix::encode_snapshot(*tree, workers_));
    flush_snapshots_for(model);
    return;
  }
  radix::WorkerDirectory* workers = &workers_;
  const bool queued = worker_->submit([tree, workers, finish]() -> std::function<void()> {
    auto blob = std::make_shared<Result<std::string>>(radix::encode_snapshot(*tree, *workers));
    return [finish, blob]() mutable { finish(std::move(*blob)); };
  });
  if (!queued) building_.erase(model);  // worker busy: the next flush tries again
}

// Serves the peers of one model right after an inline build.
void SyncEngine::flush_snapshots_for(const std::string& model) {
  auto it = to_send_.find(model);
  const Cached& c = cache_[model];
  if (it == to_send_.end() || !c.blob) return;
  for (const auto& p : it->second)
    if (peers_.count(p) != 0) start_transfer(p, model, c.blob);
  it->second.clear();
}

void SyncEngine::handle_snapshot_chunk(const NodeId& from, const SnapshotChunk& chunk) {
  auto r = assembler_.add(from, chunk, now_ms_);
  if (!r.ok()) {
    SyncStats::bump(stats_.snapshots_rejected);
    return reject(r.error());
  }
  if (!r->has_value()) return;
  auto blob = std::make_shared<std::string>(std::move((*r)->blob));
  const std::string model = (*r)->model;
  auto tree_or = trees_.get_or_create(model);
  if (!tree_or.ok()) {
    SyncStats::bump(stats_.snapshots_rejected);
    return;
  }
  auto finish = [this, from, model, size = blob->size()](Status st) {
    if (!st.ok()) {
      SyncStats::bump(stats_.snapshots_rejected);
      return reject(st.error());
    }
    SyncStats::bump(stats_.snapshots_received);
    SyncStats::bump(stats_.snapshot_bytes_received, size);
    version_[model] += 1;
    auto w = wanted_.find(model);
    if (w != wanted_.end() && w->second.from == from) wanted_.erase(w);
    // Inserts parked on anchors the snapshot brought are now applicable.
    for (const auto& [peer, ps] : peers_) retry_parked(peer, model);
    retry_parked(from, model);
  };
  std::shared_ptr<radix::PrefixTree> tree = *tree_or;
  const size_t cap = cfg_.max_decoded_snapshot_bytes;
  if (!worker_) {
    DeltaJournal::RemoteScope remote;
    return finish(radix::merge_snapshot(*blob, *tree, workers_, cap));
  }
  radix::WorkerDirectory* workers = &workers_;
  const bool queued =
      worker_->submit([tree, workers, blob, cap, finish]() -> std::function<void()> {
        DeltaJournal::RemoteScope remote;
        Status st = radix::merge_snapshot(*blob, *tree, *workers, cap);
        return [finish, st]() { finish(st); };
      });
  // Worker busy: dropped; the request times out and is sent again.
  if (!queued) SyncStats::bump(stats_.snapshots_rejected);
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
    const Cached& c = cache_[model];
    const uint64_t changes = version - c.version;
    const bool by_count =
        cfg_.snapshot_change_trigger != 0 && changes >= cfg_.snapshot_change_trigger;
    const bool by_age =
        now_ms_ >= c.built_ms + cfg_.snapshot_stale_ms && changes >= cfg_.snapshot_min_changes;
    if (by_count || by_age) build_snapshot(model);
  }
}

}  // namespace radixmesh::mesh
