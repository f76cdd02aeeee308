#include "mesh/sync_engine.h"

#include "mesh/sync_codec.h"
#include "radix/hlc.h"
#include "radix/prefix_tree.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"

namespace radixmesh::mesh {
namespace {
constexpr size_t kMaxGatheredAcks = 4096;  // one DeltaAck of ~8 KiB at most
}  // namespace

SyncEngine::SyncEngine(SyncEngineConfig cfg, radix::TreeCatalog& trees,
                       radix::WorkerDirectory& workers, radix::HybridClock& clock,
                       DeltaJournal& journal, LoadBoard& load, PeerSender& sender)
    : cfg_(std::move(cfg)),
      trees_(trees),
      workers_(workers),
      clock_(clock),
      journal_(journal),
      load_(load),
      sender_(sender),
      snapshot_sender_(std::min(cfg_.snapshot_chunk_bytes, kMaxSnapshotChunkData),
                       (cfg_.wall_ms ? cfg_.wall_ms() : radix::system_physical_ms()) << 8),
      assembler_(cfg_.assembler),
      worker_(cfg_.background_snapshots ? std::make_unique<SnapshotWorker>(cfg_.max_snapshot_jobs)
                                        : nullptr) {}

SyncEngine::~SyncEngine() = default;

bool SyncEngine::send(const NodeId& to, FrameType type, std::string payload) {
  const size_t n = payload.size();
  if (!sender_.send(to, type, std::move(payload))) {
    SyncStats::bump(stats_.send_refused);
    return false;
  }
  const auto t = static_cast<uint8_t>(type);
  SyncStats::bump(stats_.frames_sent[t]);
  SyncStats::bump(stats_.bytes_sent[t], n);
  return true;
}

void SyncEngine::reject(const Error& e) {
  SyncStats::bump(e.code == ErrorCode::kTooLarge ? stats_.rejected_too_large
                                                 : stats_.rejected_corrupt);
}

void SyncEngine::on_peer_up(const NodeId& peer) {
  auto [it, fresh] = peers_.try_emplace(peer, cfg_.outbox);
  it->second.up_epoch = ++epoch_;
  it->second.digest_seen = false;
  if (!fresh) {
    it->second.outbox.clear();
    it->second.acks.clear();  // for the previous connection's seqs
  }
  // A joining peer learns our digests at once and pulls the snapshots it
  // lacks; it learns our load too.
  send_digests(peer);
  if (!last_load_payload_.empty()) send(peer, FrameType::kLoadReport, last_load_payload_);
}

void SyncEngine::on_peer_down(const NodeId& peer) {
  peers_.erase(peer);
  assembler_.drop_peer(peer);
  snapshot_sender_.drop_peer(peer);
  load_.on_peer_down(peer);
  for (auto& [model, peers] : to_send_) peers.erase(peer);
  std::erase_if(wanted_, [&](const auto& kv) { return kv.second.from == peer; });
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (std::get<0>(it->first) == peer) {
      SyncStats::bump(stats_.anchors_abandoned, it->second.records.size());
      parked_records_ -= it->second.records.size();
      it = parked_.erase(it);
    } else {
      ++it;
    }
  }
}

void SyncEngine::on_frame(const NodeId& from, FrameType type, std::string_view payload) {
  const auto t = static_cast<uint8_t>(type);
  SyncStats::bump(stats_.frames_received[t]);
  SyncStats::bump(stats_.bytes_received[t], payload.size());
  switch (type) {
    case FrameType::kDeltaBatch: {
      auto b = decode_delta_batch(payload);
      if (!b.ok()) return reject(b.error());
      handle_batch(from, *b);
      if (auto it = peers_.find(from); it != peers_.end()) {
        it->second.acks.push_back(b->seq);
        send_acks(from, it->second, AckWhen::kReceipt);
      } else {
        send(from, FrameType::kDeltaAck, encode(DeltaAck{{b->seq}}));
      }
      break;
    }
    case FrameType::kDeltaAck: {
      auto a = decode_delta_ack(payload);
      if (!a.ok()) return reject(a.error());
      handle_ack(from, *a);
      break;
    }
    case FrameType::kAnchorRequest: {
      auto q = decode_anchor_request(payload);
      if (!q.ok()) return reject(q.error());
      handle_anchor_request(from, *q);
      break;
    }
    case FrameType::kAnchorReply: {
      auto a = decode_anchor_reply(payload);
      if (!a.ok()) return reject(a.error());
      handle_anchor_reply(from, *a);
      break;
    }
    case FrameType::kDigest: {
      auto d = decode_digest(payload);
      if (!d.ok()) return reject(d.error());
      handle_digest(from, *d);
      break;
    }
    case FrameType::kSnapshotRequest: {
      auto q = decode_snapshot_request(payload);
      if (!q.ok()) return reject(q.error());
      handle_snapshot_request(from, *q);
      break;
    }
    case FrameType::kSnapshotChunk: {
      auto c = decode_snapshot_chunk(payload);
      if (!c.ok()) return reject(c.error());
      handle_snapshot_chunk(from, *c);
      break;
    }
    case FrameType::kLoadReport: {
      auto r = decode_load_report(payload);
      if (!r.ok()) return reject(r.error());
      load_.on_peer_report(from, *r);
      break;
    }
    case FrameType::kLoadDelta: {
      auto r = decode_load_report(payload);
      if (!r.ok()) return reject(r.error());
      if (peers_.count(from) != 0) load_.on_peer_delta(from, *r);  // never resurrect a down peer
      break;
    }
    case FrameType::kWorkerEvent: {
      auto e = decode_worker_event(payload);
      if (!e.ok()) return reject(e.error());
      apply_event(from, *e);
      break;
    }
    default:
      break;  // not a sync frame: the wire layer's business
  }
  flush_snapshots();
}

void SyncEngine::tick(uint64_t now_ms) {
  now_ms_ = now_ms;
  ++round_;
  send_round_batches(/*resend=*/true);
  for (auto& [peer, ps] : peers_) send_acks(peer, ps, AckWhen::kTick);

  // Load: complete report while anything is in flight (peers decay silence),
  // one empty report when it drops to nothing, then silence. "Drops" is
  // against what peers were last told, by a round or a push: a request that
  // started and ended between two rounds may have been told only by push.
  const LoadReport report = load_.local_report();
  const bool idle = report.entries.empty();
  if (!idle || !load_told_.empty()) {
    std::string load = encode(report);
    for (const auto& [peer, ps] : peers_) send(peer, FrameType::kLoadReport, load);
    last_load_payload_ = idle ? std::string() : std::move(load);
    note_load_sent(report);
  }
  load_.expire();

  if (cfg_.digest_every_rounds > 0 && round_ % cfg_.digest_every_rounds == 0)
    for (const auto& [peer, ps] : peers_) send_digests(peer);

  expire_parked();
  snapshot_housekeeping();
  flush_snapshots();
}

bool SyncEngine::flush(uint64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  SyncStats::bump(stats_.flushes);
  send_round_batches(/*resend=*/false);
  for (auto& [peer, ps] : peers_) send_acks(peer, ps, AckWhen::kFlush);
  const bool load_moving = push_load_delta();
  flush_snapshots();
  return load_moving;
}

void SyncEngine::note_load_sent(const LoadReport& report) {
  load_told_.clear();
  for (const auto& e : report.entries) load_told_[e.worker] = e.in_flight;
}

bool SyncEngine::push_load_delta() {
  const LoadReport now = load_.local_report();  // sorted by worker
  LoadReport delta;
  auto told = load_told_.begin();
  for (const auto& e : now.entries) {
    for (; told != load_told_.end() && told->first < e.worker; ++told)
      delta.entries.push_back({told->first, 0});  // dropped to zero
    if (told != load_told_.end() && told->first == e.worker) {
      if (told->second != e.in_flight) delta.entries.push_back(e);
      ++told;
    } else {
      delta.entries.push_back(e);
    }
  }
  for (; told != load_told_.end(); ++told) delta.entries.push_back({told->first, 0});
  if (delta.entries.empty()) return !now.entries.empty();
  const std::string payload = encode(delta);
  SyncStats::bump(stats_.load_deltas_sent);
  for (const auto& [peer, ps] : peers_) send(peer, FrameType::kLoadDelta, payload);
  note_load_sent(now);
  // Peers that come up get the full report; the round's report goes out too.
  last_load_payload_ = now.entries.empty() ? std::string() : encode(now);
  return true;
}

void SyncEngine::send_round_batches(bool resend) {
  DeltaJournal::Drained d = journal_.drain();
  for (const auto& [model, n] : d.changes) version_[model] += n;
  if (d.overflowed) {
    SyncStats::bump(stats_.journal_overflows);
    for (auto& [peer, ps] : peers_) ps.outbox.mark_needs_snapshot();
  }
  for (auto& b : d.batches) {
    b.seq = next_seq_++;
    auto payload = std::make_shared<const std::string>(encode(b));
    SyncStats::bump(stats_.batches_sent);
    for (auto& [peer, ps] : peers_)
      if (!ps.outbox.push(b.seq, payload)) SyncStats::bump(stats_.outbox_overflows);
  }
  if (!resend && d.batches.empty() && !d.overflowed) return;
  for (auto& [peer, ps] : peers_) {
    if (ps.outbox.needs_snapshot()) {
      // Too far behind: a snapshot of every model replaces the backlog.
      ps.outbox.clear();
      ps.outbox.clear_needs_snapshot();
      queue_all_snapshots(peer);
    }
    send_due(peer, ps, resend);
  }
}

void SyncEngine::send_due(const NodeId& peer, PeerState& ps, bool resend) {
  for (const auto& due : ps.outbox.due(now_ms_, resend)) {
    if (!send(peer, FrameType::kDeltaBatch, *due.payload)) break;  // queue full: next round
    if (ps.outbox.was_sent(due.seq)) SyncStats::bump(stats_.batches_resent);
    ps.outbox.mark_sent(due.seq, now_ms_);
  }
}

uint64_t SyncEngine::wall_now() const {
  return cfg_.wall_ms ? cfg_.wall_ms() : radix::system_physical_ms();
}

void SyncEngine::send_acks(const NodeId& peer, PeerState& ps, AckWhen when) {
  if (ps.acks.empty()) return;
  const uint64_t now = wall_now();
  if (when != AckWhen::kTick && ps.acks.size() < kMaxGatheredAcks && ps.acked_wall_ms != 0) {
    const uint64_t gap = when == AckWhen::kFlush ? cfg_.ack_gap_ms : cfg_.ack_idle_gap_ms;
    if (now < ps.acked_wall_ms + gap) return;
  }
  DeltaAck a;
  a.seqs = std::move(ps.acks);
  ps.acks.clear();
  std::sort(a.seqs.begin(), a.seqs.end());
  // Not acknowledged if refused: the sender resends and we apply (idempotently) again.
  send(peer, FrameType::kDeltaAck, encode(a));
  ps.acked_wall_ms = now;
}

void SyncEngine::handle_ack(const NodeId& from, const DeltaAck& a) {
  auto it = peers_.find(from);
  if (it == peers_.end()) return;
  for (uint64_t s : a.seqs) it->second.outbox.ack(s);
}

void SyncEngine::send_digests(const NodeId& peer) {
  Digest d;
  for (const auto& [model, tree] : trees_.all()) {
    const uint64_t v = tree->digest();
    if (v != 0) d.models.push_back({model, v});
  }
  send(peer, FrameType::kDigest, encode(d));
}

void SyncEngine::handle_digest(const NodeId& from, const Digest& d) {
  auto pit = peers_.find(from);
  // First exchange since the peer came up: whatever differs was missed while
  // apart (deltas made before an up are in no outbox), so pull it now.
  const bool first = pit != peers_.end() && !pit->second.digest_seen;
  if (pit != peers_.end()) pit->second.digest_seen = true;
  for (const auto& e : d.models) {
    if (e.digest == 0) continue;  // the peer holds nothing: it pulls from us
    auto tree = trees_.find(e.model);
    const uint64_t local = tree ? tree->digest() : 0;
    if (pit == peers_.end()) {
      if (local == 0) want_snapshot(from, e.model);
      continue;
    }
    auto& seen = pit->second.digests[e.model];
    if (local == e.digest) {
      seen = {};
      continue;
    }
    if (local == 0 || first) {
      want_snapshot(from, e.model);
    } else if (seen.remote == e.digest && seen.local == local) {
      // The same mismatch twice with neither side changing: not deltas in flight.
      if (now_ms_ >= seen.next_request_ms) {
        want_snapshot(from, e.model);
        seen.backoff_ms = seen.backoff_ms == 0
                              ? cfg_.snapshot_backoff_ms
                              : std::min(seen.backoff_ms * 2, cfg_.snapshot_backoff_max_ms);
        seen.next_request_ms = now_ms_ + seen.backoff_ms;
      }
    }
    seen.remote = e.digest;
    seen.local = local;
  }
}

std::vector<PeerSyncInfo> SyncEngine::peer_info() const {
  std::vector<PeerSyncInfo> out;
  for (const auto& [peer, ps] : peers_)
    out.push_back({peer, ps.outbox.batches(), ps.outbox.bytes(), ps.outbox.needs_snapshot()});
  return out;
}

}  // namespace radixmesh::mesh
