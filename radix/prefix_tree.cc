#include "radix/prefix_tree.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "radix/tombstones.h"
#include "radix/tree_shard.h"
#include "radix/worker_budgets.h"
#include "radix/worker_counts.h"
#include "radix/worker_directory.h"

namespace radixmesh::radix {

struct PrefixTree::Slot {
  Slot(WorkerCounts* counts, TreeShard::KeyFn key_of) : shard(counts, std::move(key_of)) {}
  mutable std::shared_mutex mu;
  TreeShard shard;  // guarded by mu
};

namespace {

using Clock = std::chrono::steady_clock;

uint64_t elapsed_ns(Clock::time_point since) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - since).count());
}

// The router path's holds (match, insert) are timed one call in 16 per
// thread: two clock reads on every call were about 1 % of a small request's
// CPU. Their holds are short and alike, so the sampled maximum stays
// representative; the long holds (eviction steps, apply, visits) are always
// timed.
bool sample_hold() {
  thread_local uint32_t calls = 0;
  return (++calls & 15u) == 0;
}

size_t shard_of(BlockHash first, size_t shards) {
  uint64_t x = first ^ (first >> 31);
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  return static_cast<size_t>(x % shards);
}

// Cuts a chain at its first reserved (0) hash.
std::span<const BlockHash> usable(std::span<const BlockHash> blocks) {
  auto zero = std::find(blocks.begin(), blocks.end(), BlockHash{0});
  return blocks.first(static_cast<size_t>(zero - blocks.begin()));
}

}  // namespace

PrefixTree::PrefixTree(Options options, TreeObserver* observer)
    : options_(std::move(options)),
      observer_(observer),
      pool_name_("tree:" + options_.model),
      tombstones_(
          std::make_unique<Tombstones>(options_.max_tombstones, options_.tombstone_horizon_ms)),
      counts_(std::make_unique<WorkerCounts>()) {
  const size_t n = std::max<size_t>(options_.shards, 1);
  const WorkerDirectory* dir = options_.workers;
  for (size_t i = 0; i < n; ++i) {
    slots_.push_back(std::make_unique<Slot>(counts_.get(), [dir](WorkerId w) -> uint64_t {
      return dir ? dir->key_of(w) : uint64_t{w};
    }));
  }
}

PrefixTree::~PrefixTree() = default;

PrefixTree::Slot& PrefixTree::slot_for_first(BlockHash first) const {
  return *slots_[shard_of(first, slots_.size())];
}

PrefixTree::Slot* PrefixTree::slot_holding(BlockHash hash) const {
  for (const auto& s : slots_) {
    std::shared_lock lock(s->mu);
    if (s->shard.contains(hash)) return s.get();
  }
  return nullptr;
}

void PrefixTree::record_hold(uint64_t ns) const {
  uint64_t cur = max_hold_ns_.load(std::memory_order_relaxed);
  while (ns > cur && !max_hold_ns_.compare_exchange_weak(cur, ns, std::memory_order_relaxed)) {
  }
}

void PrefixTree::note_ts(Hlc ts) {
  uint64_t cur = newest_ts_.load(std::memory_order_relaxed);
  while (ts.value > cur &&
         !newest_ts_.compare_exchange_weak(cur, ts.value, std::memory_order_relaxed)) {
  }
}

uint64_t PrefixTree::worker_key(WorkerId worker) const {
  return options_.workers ? options_.workers->key_of(worker) : uint64_t{worker};
}

MatchResult PrefixTree::match(std::span<const BlockHash> blocks) const {
  MatchResult out;
  blocks = usable(blocks);
  if (blocks.empty()) return out;
  Slot& s = slot_for_first(blocks[0]);
  std::shared_lock lock(s.mu);
  if (!sample_hold()) {
    s.shard.match(blocks, out);
    return out;
  }
  const auto t0 = Clock::now();
  s.shard.match(blocks, out);
  record_hold(elapsed_ns(t0));
  return out;
}

Result<uint32_t> PrefixTree::insert_locked(Slot& slot, std::span<const BlockHash> chain,
                                           WorkerId worker, Hlc ts, uint32_t* already_known,
                                           size_t* inserted_len) {
  const Hlc floor = tombstones_->floor(worker);
  if (floor.value != 0 && ts <= floor) {
    refused_records_.fetch_add(1, std::memory_order_relaxed);
    return make_error(ErrorCode::kInvalidArgument, "record older than the worker's floor");
  }
  chain = chain.first(tombstones_->cut(worker, chain, ts));
  if (inserted_len) *inserted_len = chain.size();
  if (chain.empty()) return uint32_t{0};
  const auto out = slot.shard.insert(chain, worker, ts);
  if (already_known) *already_known = out.already_known;
  return out.new_blocks;
}

uint32_t PrefixTree::insert(std::span<const BlockHash> blocks, WorkerId worker, Hlc ts) {
  blocks = usable(blocks);
  if (blocks.empty()) return 0;
  note_ts(ts);
  Slot& s = slot_for_first(blocks[0]);
  uint32_t known = 0;
  Result<uint32_t> added = uint32_t{0};
  size_t inserted_len = blocks.size();
  {
    std::unique_lock lock(s.mu);
    const bool timed = sample_hold();
    const auto t0 = timed ? Clock::now() : Clock::time_point{};
    added = insert_locked(s, blocks, worker, ts, &known, &inserted_len);
    if (timed) record_hold(elapsed_ns(t0));
  }
  if (!added.ok()) return 0;
  if (observer_ && inserted_len > 0) {
    observer_->on_insert(options_.model,
                         InsertEvent{worker, blocks.first(inserted_len), known, ts});
  }
  after_insert(worker);
  return added.value();
}

void PrefixTree::after_insert(WorkerId worker) {
  const size_t budget =
      options_.budgets ? std::min(options_.budgets->get(worker), options_.max_blocks_per_worker)
                       : options_.max_blocks_per_worker;
  const size_t held = counts_->get(worker);
  if (held > budget) {
    const auto keep = static_cast<size_t>(static_cast<double>(budget) * options_.evict_to_fraction);
    evict_lru(worker, held - std::min(keep, held));
  }
  if (bytes() > options_.max_bytes) {
    relieve(
        static_cast<size_t>(static_cast<double>(options_.max_bytes) * options_.evict_to_fraction));
  }
}

Status PrefixTree::apply(const InsertRecord& record) {
  auto blocks = usable(record.blocks);
  if (record.anchor == 0) {
    if (blocks.empty()) return Ok{};
    return merge_chain(blocks, record.worker, record.ts);
  }
  Slot* s = slot_holding(record.anchor);
  if (!s) return make_error(ErrorCode::kNotFound, "unknown anchor");
  note_ts(record.ts);
  std::unique_lock lock(s->mu);
  const auto t0 = Clock::now();
  auto prefix = s->shard.chain_to(record.anchor);
  if (!prefix) {  // evicted between the lookup and the lock
    record_hold(elapsed_ns(t0));
    return make_error(ErrorCode::kNotFound, "unknown anchor");
  }
  prefix->insert(prefix->end(), blocks.begin(), blocks.end());
  auto r = insert_locked(*s, *prefix, record.worker, record.ts, nullptr, nullptr);
  record_hold(elapsed_ns(t0));
  if (!r.ok()) return r.error();
  lock.unlock();
  after_insert(record.worker);
  return Ok{};
}

Status PrefixTree::merge_chain(std::span<const BlockHash> chain, WorkerId worker, Hlc ts) {
  chain = usable(chain);
  if (chain.empty()) return Ok{};
  note_ts(ts);
  Slot& s = slot_for_first(chain[0]);
  Result<uint32_t> r = uint32_t{0};
  {
    std::unique_lock lock(s.mu);
    const auto t0 = Clock::now();
    r = insert_locked(s, chain, worker, ts, nullptr, nullptr);
    record_hold(elapsed_ns(t0));
  }
  if (!r.ok()) return r.error();
  after_insert(worker);
  return Ok{};
}

void PrefixTree::apply(const EvictRecord& record) {
  if (record.from == 0) return;
  note_ts(record.ts);
  tombstones_->add(record.worker, record.from, record.ts, Hlc{newest_ts_.load()});
  Slot* s = slot_holding(record.from);
  if (!s) return;
  std::unique_lock lock(s->mu);
  const auto t0 = Clock::now();
  s->shard.evict_from(record.worker, record.from, record.ts);
  record_hold(elapsed_ns(t0));
}

std::vector<EvictRecord> PrefixTree::tombstones() const {
  std::vector<EvictRecord> out;
  for (const auto& e : tombstones_->entries()) out.push_back(EvictRecord{e.worker, e.from, e.ts});
  return out;
}

size_t PrefixTree::evict(WorkerId worker, BlockHash from, Hlc ts) {
  if (from == 0) return 0;
  note_ts(ts);
  tombstones_->add(worker, from, ts, Hlc{newest_ts_.load()});
  size_t removed = 0;
  if (Slot* s = slot_holding(from)) {
    std::unique_lock lock(s->mu);
    const auto t0 = Clock::now();
    removed = s->shard.evict_from(worker, from, ts);
    record_hold(elapsed_ns(t0));
  }
  if (observer_) observer_->on_evict(options_.model, EvictEvent{worker, from, ts});
  return removed;
}

size_t PrefixTree::remove_worker(WorkerId worker) {
  size_t removed = 0;
  for (auto& s : slots_) {
    std::unique_lock lock(s->mu);
    const auto t0 = Clock::now();
    removed += s->shard.remove_worker(worker);
    record_hold(elapsed_ns(t0));
  }
  if (observer_) observer_->on_remove_worker(options_.model, worker);
  return removed;
}

size_t PrefixTree::evict_lru(std::optional<WorkerId> worker, size_t blocks_to_free) {
  if (blocks_to_free == 0 || evicting_.exchange(true, std::memory_order_acq_rel)) return 0;
  std::vector<std::pair<uint64_t, uint32_t>> entries;
  for (auto& s : slots_) {
    std::shared_lock lock(s->mu);
    const auto t0 = Clock::now();
    s->shard.collect_entries(worker, entries);
    record_hold(elapsed_ns(t0));
  }
  // The cutoff stamp: the oldest entries summing to blocks_to_free.
  std::sort(entries.begin(), entries.end());
  size_t sum = 0;
  uint64_t cutoff = 0;
  for (const auto& [ts, len] : entries) {
    sum += len;
    cutoff = ts;
    if (sum >= blocks_to_free) break;
  }
  std::vector<EvictEvent> events;
  size_t removed = 0;
  if (!entries.empty()) {
    // In bounded steps per lock hold, so routers are not stalled.
    constexpr size_t kWorkPerHold = 8192;
    for (auto& s : slots_) {
      uint32_t cursor = 0;
      for (bool done = false; !done;) {
        std::unique_lock lock(s->mu);
        const auto t0 = Clock::now();
        removed +=
            s->shard.evict_older_step(worker, Hlc{cutoff}, cursor, kWorkPerHold, &events, done);
        record_hold(elapsed_ns(t0));
      }
    }
  }
  evicted_blocks_.fetch_add(removed, std::memory_order_relaxed);
  evicting_.store(false, std::memory_order_release);
  notify_evictions(events);
  return removed;
}

void PrefixTree::notify_evictions(const std::vector<EvictEvent>& events) {
  if (!observer_) return;
  for (const auto& e : events) observer_->on_evict(options_.model, e);
}

size_t PrefixTree::relieve(size_t target_bytes) {
  const size_t start = bytes();
  for (int round = 0; round < 8; ++round) {
    const size_t cur = bytes();
    if (cur <= target_bytes) break;
    const size_t held = counts_->total();
    if (held == 0) break;
    // Estimate worker-blocks to drop from the average cost of one.
    const size_t per = std::max<size_t>(cur / held, 1);
    const size_t want = (cur - target_bytes + per - 1) / per + 1;
    if (evict_lru(std::nullopt, want) == 0) break;
  }
  const size_t end = bytes();
  return start > end ? start - end : 0;
}

std::optional<std::vector<BlockHash>> PrefixTree::chain_to(BlockHash hash) const {
  if (hash == 0) return std::nullopt;
  for (const auto& s : slots_) {
    std::shared_lock lock(s->mu);
    auto chain = s->shard.chain_to(hash);
    if (chain) return chain;
  }
  return std::nullopt;
}

bool PrefixTree::contains(BlockHash hash) const {
  return slot_holding(hash) != nullptr;
}

uint64_t PrefixTree::digest() const {
  uint64_t d = 0;
  for (const auto& s : slots_) d += s->shard.digest();
  return d;
}

size_t PrefixTree::bytes() const {
  size_t b = sizeof(*this) + counts_->bytes() + tombstones_->bytes();
  for (const auto& s : slots_) b += sizeof(Slot) + s->shard.bytes();
  return b;
}

size_t PrefixTree::worker_blocks(WorkerId worker) const {
  return counts_->get(worker);
}

TreeStats PrefixTree::stats() const {
  TreeStats st;
  for (const auto& s : slots_) {
    st.nodes += s->shard.nodes();
    st.blocks += s->shard.blocks();
  }
  st.bytes = bytes();
  st.tombstones = tombstones_->size();
  st.blocks_per_worker = counts_->nonzero();
  st.evicted_blocks = evicted_blocks_.load(std::memory_order_relaxed);
  st.refused_records = refused_records_.load(std::memory_order_relaxed);
  st.max_lock_hold_ns = max_hold_ns_.load(std::memory_order_relaxed);
  return st;
}

uint64_t PrefixTree::take_max_lock_hold_ns() {
  return max_hold_ns_.exchange(0, std::memory_order_relaxed);
}

void PrefixTree::visit(const std::function<bool(const NodeView&)>& visitor,
                       size_t max_nodes) const {
  size_t budget = max_nodes;
  for (const auto& s : slots_) {
    std::shared_lock lock(s->mu);
    if (!s->shard.visit(visitor, budget)) return;
  }
}

std::string PrefixTree::check_invariants() const {
  std::unordered_map<WorkerId, size_t> recount;
  for (size_t i = 0; i < slots_.size(); ++i) {
    std::shared_lock lock(slots_[i]->mu);
    std::string err = slots_[i]->shard.check_invariants(recount);
    if (!err.empty()) return "shard " + std::to_string(i) + ": " + err;
  }
  for (const auto& [w, n] : counts_->nonzero()) {
    auto it = recount.find(w);
    if (it == recount.end() || it->second != n) {
      return "worker " + std::to_string(w) + " count " + std::to_string(n) + " != recount";
    }
    recount.erase(it);
  }
  for (const auto& [w, n] : recount) {
    if (n) return "worker " + std::to_string(w) + " missing from counts";
  }
  return "";
}

}  // namespace radixmesh::radix
