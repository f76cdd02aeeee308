#include "mesh/snapshot_transfer.h"

#include <algorithm>

#include "mesh/sync_codec.h"

namespace radixmesh::mesh {

void SnapshotSender::start(const NodeId& to, const std::string& model, Blob blob) {
  auto& q = out_[to];
  std::erase_if(q, [&](const Transfer& t) { return t.model == model; });
  Transfer t;
  t.model = model;
  t.id = next_id_++;
  const size_t size = blob ? blob->size() : 0;
  t.count = static_cast<uint32_t>(std::max<size_t>(1, (size + chunk_bytes_ - 1) / chunk_bytes_));
  t.blob = std::move(blob);
  q.push_back(std::move(t));
}

size_t SnapshotSender::pump(const SendFn& send, size_t max_chunks, size_t* completed) {
  size_t sent = 0;
  for (auto it = out_.begin(); it != out_.end();) {
    auto& q = it->second;
    bool refused = false;
    while (!q.empty() && sent < max_chunks && !refused) {
      Transfer& t = q.front();
      const std::string& blob = *t.blob;
      const size_t off = size_t{t.next} * chunk_bytes_;
      SnapshotChunk c;
      c.snapshot_id = t.id;
      c.model = t.model;
      c.total_bytes = blob.size();
      c.index = t.next;
      c.count = t.count;
      c.data = std::string_view(blob).substr(std::min(off, blob.size()), chunk_bytes_);
      if (!send(it->first, FrameType::kSnapshotChunk, encode(c))) {
        refused = true;
        break;
      }
      ++sent;
      if (++t.next == t.count) {
        q.pop_front();
        if (completed != nullptr) ++*completed;
      }
    }
    it = q.empty() ? out_.erase(it) : std::next(it);
  }
  return sent;
}

void SnapshotSender::drop_peer(const NodeId& peer) {
  out_.erase(peer);
}

size_t SnapshotSender::queued() const {
  size_t n = 0;
  for (const auto& [peer, q] : out_) n += q.size();
  return n;
}

Result<std::optional<SnapshotAssembler::Complete>> SnapshotAssembler::add(const NodeId& from,
                                                                          const SnapshotChunk& c,
                                                                          uint64_t now_ms) {
  using R = Result<std::optional<Complete>>;
  const Key key{from, c.snapshot_id};
  auto it = transfers_.find(key);
  if (it == transfers_.end()) {
    auto d = done_.find(from);
    if (d != done_.end() &&
        std::find(d->second.begin(), d->second.end(), c.snapshot_id) != d->second.end())
      return R(std::optional<Complete>{});  // late duplicate of a finished transfer
    if (c.total_bytes > cfg_.max_snapshot_bytes)
      return make_error(ErrorCode::kTooLarge, "snapshot larger than the receive cap");
    size_t mine = 0;
    for (const auto& [k, t] : transfers_) mine += k.first == from;
    if (mine >= cfg_.max_transfers_per_peer)
      return make_error(ErrorCode::kTooLarge, "too many snapshot transfers from one peer");
    // A transfer's chunks must be able to carry total_bytes and no more.
    if (c.total_bytes > uint64_t{c.count} * kMaxSnapshotChunkData)
      return make_error(ErrorCode::kCorrupt, "snapshot chunk count cannot carry its size");
    Transfer t;
    t.model = c.model;
    t.total = c.total_bytes;
    t.count = c.count;
    it = transfers_.emplace(key, std::move(t)).first;
  }
  Transfer& t = it->second;
  if (t.model != c.model || t.total != c.total_bytes || t.count != c.count) {
    drop(it);
    return make_error(ErrorCode::kCorrupt, "snapshot chunk disagrees with its transfer");
  }
  t.last_ms = now_ms;
  if (t.chunks.count(c.index) != 0) return R(std::optional<Complete>{});  // duplicate
  if (t.received + c.data.size() > t.total) {
    drop(it);
    return make_error(ErrorCode::kCorrupt, "snapshot chunks exceed the declared size");
  }
  if (buffered_ + c.data.size() > cfg_.max_total_bytes) {
    drop(it);
    return make_error(ErrorCode::kTooLarge, "snapshot reassembly buffers full");
  }
  t.chunks.emplace(c.index, std::string(c.data));
  t.received += c.data.size();
  buffered_ += c.data.size();
  if (t.chunks.size() < t.count) return R(std::optional<Complete>{});
  if (t.received != t.total) {
    drop(it);
    return make_error(ErrorCode::kCorrupt, "snapshot size mismatch");
  }
  Complete done;
  done.model = t.model;
  done.blob.reserve(t.total);
  for (auto& [idx, data] : t.chunks) done.blob += data;
  drop(it);
  auto& recent = done_[from];
  recent.push_back(c.snapshot_id);
  if (recent.size() > 16) recent.pop_front();
  return R(std::optional<Complete>(std::move(done)));
}

void SnapshotAssembler::drop(std::map<Key, Transfer>::iterator it) {
  buffered_ -= it->second.received;
  transfers_.erase(it);
}

void SnapshotAssembler::drop_peer(const NodeId& peer) {
  done_.erase(peer);
  for (auto it = transfers_.begin(); it != transfers_.end();)
    if (it->first.first == peer)
      drop(it++);
    else
      ++it;
}

size_t SnapshotAssembler::expire(uint64_t now_ms) {
  size_t n = 0;
  for (auto it = transfers_.begin(); it != transfers_.end();)
    if (now_ms >= it->second.last_ms + cfg_.timeout_ms) {
      drop(it++);
      ++n;
    } else {
      ++it;
    }
  return n;
}

}  // namespace radixmesh::mesh
