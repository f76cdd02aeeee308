#include "mesh/delta_journal.h"

#include <algorithm>

#include "mesh/sync_codec.h"
#include "radix/worker_directory.h"

namespace radixmesh::mesh {
namespace {

thread_local int remote_depth = 0;

constexpr size_t kRecordOverhead = 64;  // vector slot + bookkeeping, for the byte bound

uint64_t refresh_key(WorkerKey w, BlockHash anchor) {
  return w ^ (anchor * 0x9E3779B97F4A7C15ull);
}

}  // namespace

DeltaJournal::RemoteScope::RemoteScope() {
  ++remote_depth;
}
DeltaJournal::RemoteScope::~RemoteScope() {
  --remote_depth;
}

DeltaJournal::DeltaJournal(DeltaJournalConfig cfg, const radix::WorkerDirectory& workers)
    : cfg_(cfg), workers_(workers) {}

void DeltaJournal::on_insert(std::string_view model, const radix::InsertEvent& ev) {
  if (remote_depth > 0 || ev.blocks.empty()) return;
  const size_t known = std::min<size_t>(ev.already_known, ev.blocks.size());
  const WorkerKey key = workers_.key_of(ev.worker);
  // A record never outgrows a batch: a very long new tail is cut into pieces,
  // each anchored on the last hash of the previous piece (records keep order).
  const size_t max_blocks = std::max<size_t>(1, cfg_.max_batch_bytes / 8 / 2);
  size_t start = known;
  do {
    const size_t end = std::min(ev.blocks.size(), start + max_blocks);
    DeltaRecord rec;
    rec.kind = DeltaRecord::Kind::kInsert;
    rec.worker = key;
    rec.anchor = start == 0 ? 0 : ev.blocks[start - 1];
    rec.blocks.assign(ev.blocks.begin() + static_cast<std::ptrdiff_t>(start),
                      ev.blocks.begin() + static_cast<std::ptrdiff_t>(end));
    rec.ts = ev.ts.value;
    const size_t cost = kRecordOverhead + 8 * rec.blocks.size();
    append(model, std::move(rec), cost);
    start = end;
  } while (start < ev.blocks.size());
}

void DeltaJournal::on_evict(std::string_view model, const radix::EvictEvent& ev) {
  if (remote_depth > 0) return;
  DeltaRecord rec;
  rec.kind = DeltaRecord::Kind::kEvict;
  rec.worker = workers_.key_of(ev.worker);
  rec.anchor = ev.from;
  rec.ts = ev.ts.value;
  append(model, std::move(rec), kRecordOverhead);
}

void DeltaJournal::on_remove_worker(std::string_view /*model*/, radix::WorkerId worker) {
  if (remote_depth > 0) return;
  // A removal is per worker, not per model: one event however many trees it touched.
  const WorkerKey key = workers_.key_of(worker);
  std::lock_guard lock(mu_);
  for (const auto& e : events_)
    if (e.kind == WorkerEvent::Kind::kRemoved && e.worker == key) return;
  events_.push_back({WorkerEvent::Kind::kRemoved, key, 0, {}});
  bytes_ += kRecordOverhead;
  wake_locked();
}

void DeltaJournal::note_worker_event(WorkerEvent::Kind kind, radix::WorkerId worker, uint64_t ts) {
  WorkerEvent e{kind, workers_.key_of(worker), ts, {}};
  if (kind == WorkerEvent::Kind::kAdded) e.url = workers_.url_of(worker);
  const size_t cost = kRecordOverhead + e.url.size();
  std::lock_guard lock(mu_);
  if (bytes_ + cost > cfg_.max_bytes)
    return;  // events are also re-derivable by peers' own registries
  events_.push_back(std::move(e));
  bytes_ += cost;
  wake_locked();
}

void DeltaJournal::wake_locked() {
  if (wake_armed_ || !wake_) return;
  wake_armed_ = true;
  // Under the lock so that set_wake({}) is a barrier (the callee may be going
  // away); the callee only posts to an executor and never takes this lock.
  wake_();
}

void DeltaJournal::set_wake(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  wake_ = std::move(wake);
  wake_armed_ = false;
}

void DeltaJournal::append(std::string_view model, DeltaRecord rec, size_t cost) {
  std::lock_guard lock(mu_);
  append_locked(model, std::move(rec), cost);
  wake_locked();
}

void DeltaJournal::append_locked(std::string_view model, DeltaRecord rec, size_t cost) {
  if (overflowed_) return;  // already lost this round: peers get snapshots
  if (bytes_ + cost > cfg_.max_bytes) {
    overflowed_ = true;
    ++overflows_;
    pending_.clear();
    order_.clear();
    bytes_ = 0;
    return;
  }
  auto it = pending_.find(model);
  if (it == pending_.end()) {
    it = pending_.emplace(std::string(model), ModelPending{}).first;
    order_.emplace_back(model);
  }
  ModelPending& mp = it->second;
  if (rec.kind == DeltaRecord::Kind::kInsert && rec.blocks.empty()) {
    // Refresh only: keep one per (worker, anchor) per round, with the newest stamp.
    const uint64_t k = refresh_key(rec.worker, rec.anchor);
    auto [ri, fresh] = mp.refresh_index.try_emplace(k, mp.records.size());
    if (!fresh) {
      DeltaRecord& prev = mp.records[ri->second];
      if (prev.worker == rec.worker && prev.anchor == rec.anchor && prev.blocks.empty() &&
          prev.kind == DeltaRecord::Kind::kInsert) {
        prev.ts = std::max(prev.ts, rec.ts);
        return;
      }
    }
  }
  mp.records.push_back(std::move(rec));
  bytes_ += cost;
}

DeltaJournal::Drained DeltaJournal::drain() {
  std::vector<std::string> order;
  std::map<std::string, ModelPending, std::less<>> pending;
  std::vector<WorkerEvent> events;
  Drained out;
  {
    std::lock_guard lock(mu_);
    order.swap(order_);
    pending.swap(pending_);
    events.swap(events_);
    out.overflowed = overflowed_;
    overflowed_ = false;
    bytes_ = 0;
    wake_armed_ = false;
  }
  if (events.empty() && pending.empty()) return out;

  out.batches.emplace_back();
  out.batches.back().events = std::move(events);
  size_t batch_bytes = 0;
  for (const auto& name : order) {
    auto& records = pending[name].records;
    out.changes[name] += records.size();
    out.records += records.size();
    ModelDelta* md = nullptr;
    for (auto& rec : records) {
      const size_t cost = encoded_size_bound(rec);
      if (md != nullptr && batch_bytes + cost > cfg_.max_batch_bytes) {
        out.batches.emplace_back();
        batch_bytes = 0;
        md = nullptr;
      }
      if (md == nullptr) {
        out.batches.back().models.push_back({name, {}});
        md = &out.batches.back().models.back();
        batch_bytes += name.size() + 8;
      }
      batch_bytes += cost;
      md->records.push_back(std::move(rec));
    }
  }
  return out;
}

size_t DeltaJournal::pending_bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

uint64_t DeltaJournal::overflows() const {
  std::lock_guard lock(mu_);
  return overflows_;
}

}  // namespace radixmesh::mesh
