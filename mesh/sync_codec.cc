#include "mesh/sync_codec.h"

#include "mesh/wire_buffer.h"

namespace radixmesh::mesh {
namespace {

// Record tag bits (the rest of the tag is the worker table index).
constexpr uint64_t kTagEvict = 1;     // else insert
constexpr uint64_t kTagAnchored = 2;  // insert: an anchor hash follows
constexpr int kTagShift = 2;

uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t unzigzag(uint64_t u) {
  return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
}

Error corrupt(const char* what) {
  return make_error(ErrorCode::kCorrupt, what);
}

// `count` claimed items of at least `min_bytes` each must fit what remains.
bool fits(const WireReader& r, uint64_t count, size_t min_bytes) {
  return r.ok() && count <= r.remaining() / min_bytes;
}

void put_event(WireWriter& w, const WorkerEvent& e) {
  w.u8(static_cast<uint8_t>(e.kind));
  w.u64(e.worker);
  w.varint(e.ts);
  w.str(e.url);
}

bool get_event(WireReader& r, WorkerEvent& e) {
  uint8_t kind = r.u8();
  if (kind > static_cast<uint8_t>(WorkerEvent::Kind::kHealthy)) r.fail();
  e.kind = static_cast<WorkerEvent::Kind>(kind);
  e.worker = r.u64();
  e.ts = r.varint();
  e.url = r.str(kMaxUrlBytes);
  return r.ok();
}

}  // namespace

size_t encoded_size_bound(const DeltaRecord& rec) {
  return 3 /*tag*/ + 10 /*ts*/ + 8 /*anchor*/ + 5 /*count*/ + 8 * rec.blocks.size();
}

std::string encode(const DeltaBatch& b) {
  WireWriter w;
  w.varint(b.seq);
  w.varint(b.events.size());
  for (const auto& e : b.events) put_event(w, e);

  // Worker table: each distinct key once, records refer to it by index. A
  // round touches few workers, so a linear scan beats hashing here.
  std::vector<WorkerKey> table;
  auto index_of = [&table](WorkerKey k) -> uint64_t {
    for (size_t i = 0; i < table.size(); ++i)
      if (table[i] == k) return i;
    table.push_back(k);
    return table.size() - 1;
  };
  uint64_t base_ts = 0;
  bool have_ts = false;
  for (const auto& m : b.models)
    for (const auto& rec : m.records) {
      index_of(rec.worker);
      if (!have_ts) base_ts = rec.ts, have_ts = true;
    }
  w.varint(table.size());
  for (WorkerKey k : table) w.u64(k);
  w.u64(base_ts);

  w.varint(b.models.size());
  uint64_t prev_ts = base_ts;
  for (const auto& m : b.models) {
    w.str(m.model);
    w.varint(m.records.size());
    for (const auto& rec : m.records) {
      uint64_t tag = index_of(rec.worker) << kTagShift;
      if (rec.kind == DeltaRecord::Kind::kEvict) {
        w.varint(tag | kTagEvict);
        w.varint(zigzag(static_cast<int64_t>(rec.ts - prev_ts)));
        w.u64(rec.anchor);
      } else {
        if (rec.anchor != 0) tag |= kTagAnchored;
        w.varint(tag);
        w.varint(zigzag(static_cast<int64_t>(rec.ts - prev_ts)));
        if (rec.anchor != 0) w.u64(rec.anchor);
        w.varint(rec.blocks.size());
        for (BlockHash h : rec.blocks) w.u64(h);
      }
      prev_ts = rec.ts;
    }
  }
  return w.take();
}

Result<DeltaBatch> decode_delta_batch(std::string_view payload) {
  WireReader r(payload);
  DeltaBatch b;
  b.seq = r.varint();
  uint64_t nev = r.varint();
  if (!fits(r, nev, 11)) return corrupt("delta batch: event count");
  b.events.resize(nev);
  for (auto& e : b.events)
    if (!get_event(r, e)) return corrupt("delta batch: event");

  uint64_t nworkers = r.varint();
  if (nworkers > kMaxWorkersPerBatch || !fits(r, nworkers, 8))
    return corrupt("delta batch: worker table");
  std::vector<WorkerKey> table(nworkers);
  for (auto& k : table) k = r.u64();
  uint64_t prev_ts = r.u64();

  uint64_t nmodels = r.varint();
  if (!fits(r, nmodels, 2)) return corrupt("delta batch: model count");
  b.models.resize(nmodels);
  for (auto& m : b.models) {
    m.model = r.str(kMaxModelNameBytes);
    uint64_t nrec = r.varint();
    if (!fits(r, nrec, 3)) return corrupt("delta batch: record count");
    m.records.resize(nrec);
    for (auto& rec : m.records) {
      uint64_t tag = r.varint();
      uint64_t idx = tag >> kTagShift;
      if (!r.ok() || idx >= table.size()) return corrupt("delta batch: worker index");
      rec.worker = table[idx];
      rec.ts = prev_ts + static_cast<uint64_t>(unzigzag(r.varint()));
      prev_ts = rec.ts;
      if (tag & kTagEvict) {
        if (tag & kTagAnchored) return corrupt("delta batch: bad tag");
        rec.kind = DeltaRecord::Kind::kEvict;
        rec.anchor = r.u64();
      } else {
        rec.kind = DeltaRecord::Kind::kInsert;
        if (tag & kTagAnchored) rec.anchor = r.u64();
        uint64_t n = r.varint();
        if (!fits(r, n, 8)) return corrupt("delta batch: block count");
        rec.blocks.resize(n);
        for (auto& h : rec.blocks) h = r.u64();
      }
    }
  }
  if (!r.ok() || !r.at_end()) return corrupt("delta batch: truncated or trailing bytes");
  return b;
}

std::string encode(const DeltaAck& a) {
  WireWriter w;
  w.varint(a.seqs.size());
  uint64_t prev = 0;
  for (uint64_t s : a.seqs) {  // deltas: acks of one round are near each other
    w.varint(zigzag(static_cast<int64_t>(s - prev)));
    prev = s;
  }
  return w.take();
}

Result<DeltaAck> decode_delta_ack(std::string_view payload) {
  WireReader r(payload);
  DeltaAck a;
  uint64_t n = r.varint();
  if (!fits(r, n, 1)) return corrupt("delta ack: count");
  a.seqs.resize(n);
  uint64_t prev = 0;
  for (auto& s : a.seqs) s = prev = prev + static_cast<uint64_t>(unzigzag(r.varint()));
  if (!r.ok() || !r.at_end()) return corrupt("delta ack: truncated or trailing bytes");
  return a;
}

std::string encode(const AnchorRequest& q) {
  WireWriter w;
  w.str(q.model);
  w.u64(q.anchor);
  return w.take();
}

Result<AnchorRequest> decode_anchor_request(std::string_view payload) {
  WireReader r(payload);
  AnchorRequest q;
  q.model = r.str(kMaxModelNameBytes);
  q.anchor = r.u64();
  if (!r.ok() || !r.at_end()) return corrupt("anchor request");
  return q;
}

std::string encode(const AnchorReply& a) {
  WireWriter w;
  w.str(a.model);
  w.u64(a.anchor);
  w.varint(a.chain.size());
  for (BlockHash h : a.chain) w.u64(h);
  w.varint(a.tenants.size());
  for (const auto& t : a.tenants) {
    w.u64(t.worker);
    w.varint(t.ts);
  }
  return w.take();
}

Result<AnchorReply> decode_anchor_reply(std::string_view payload) {
  WireReader r(payload);
  AnchorReply a;
  a.model = r.str(kMaxModelNameBytes);
  a.anchor = r.u64();
  uint64_t n = r.varint();
  if (!fits(r, n, 8)) return corrupt("anchor reply: chain length");
  a.chain.resize(n);
  for (auto& h : a.chain) h = r.u64();
  uint64_t nt = r.varint();
  if (nt > kMaxWorkersPerBatch || !fits(r, nt, 9)) return corrupt("anchor reply: tenant count");
  a.tenants.resize(nt);
  for (auto& t : a.tenants) {
    t.worker = r.u64();
    t.ts = r.varint();
  }
  if (!r.ok() || !r.at_end()) return corrupt("anchor reply: truncated or trailing bytes");
  return a;
}

std::string encode(const Digest& d) {
  WireWriter w;
  w.varint(d.models.size());
  for (const auto& e : d.models) {
    w.str(e.model);
    w.u64(e.digest);
  }
  return w.take();
}

Result<Digest> decode_digest(std::string_view payload) {
  WireReader r(payload);
  Digest d;
  uint64_t n = r.varint();
  if (!fits(r, n, 9)) return corrupt("digest: count");
  d.models.resize(n);
  for (auto& e : d.models) {
    e.model = r.str(kMaxModelNameBytes);
    e.digest = r.u64();
  }
  if (!r.ok() || !r.at_end()) return corrupt("digest: truncated or trailing bytes");
  return d;
}

std::string encode(const SnapshotRequest& q) {
  WireWriter w;
  w.str(q.model);
  return w.take();
}

Result<SnapshotRequest> decode_snapshot_request(std::string_view payload) {
  WireReader r(payload);
  SnapshotRequest q;
  q.model = r.str(kMaxModelNameBytes);
  if (!r.ok() || !r.at_end()) return corrupt("snapshot request");
  return q;
}

std::string encode(const SnapshotChunk& c) {
  WireWriter w;
  w.varint(c.snapshot_id);
  w.str(c.model);
  w.varint(c.total_bytes);
  w.varint(c.index);
  w.varint(c.count);
  w.raw(c.data);
  return w.take();
}

Result<SnapshotChunk> decode_snapshot_chunk(std::string_view payload) {
  WireReader r(payload);
  SnapshotChunk c;
  c.snapshot_id = r.varint();
  c.model = r.str(kMaxModelNameBytes);
  c.total_bytes = r.varint();
  uint64_t index = r.varint();
  uint64_t count = r.varint();
  if (!r.ok() || count == 0 || index >= count || count > (uint64_t{1} << 20))
    return corrupt("snapshot chunk: index/count");
  c.index = static_cast<uint32_t>(index);
  c.count = static_cast<uint32_t>(count);
  c.data = r.raw(r.remaining());
  if (c.data.size() > kMaxSnapshotChunkData)
    return make_error(ErrorCode::kTooLarge, "snapshot chunk: data");
  return c;
}

std::string encode(const LoadReport& rep) {
  WireWriter w;
  w.varint(rep.entries.size());
  for (const auto& e : rep.entries) {
    w.u64(e.worker);
    w.varint(e.in_flight);
  }
  return w.take();
}

Result<LoadReport> decode_load_report(std::string_view payload) {
  WireReader r(payload);
  LoadReport rep;
  uint64_t n = r.varint();
  if (n > kMaxWorkersPerBatch || !fits(r, n, 9)) return corrupt("load report: count");
  rep.entries.resize(n);
  for (auto& e : rep.entries) {
    e.worker = r.u64();
    e.in_flight = r.varint();
  }
  if (!r.ok() || !r.at_end()) return corrupt("load report: truncated or trailing bytes");
  return rep;
}

std::string encode(const WorkerEvent& e) {
  WireWriter w;
  put_event(w, e);
  return w.take();
}

Result<WorkerEvent> decode_worker_event(std::string_view payload) {
  WireReader r(payload);
  WorkerEvent e;
  if (!get_event(r, e) || !r.at_end()) return corrupt("worker event");
  return e;
}

}  // namespace radixmesh::mesh
