#include "radix/snapshot_codec.h"

#include <lz4.h>
#include <xxhash.h>

#include <cstring>
#include <unordered_map>

#include "radix/prefix_tree.h"
#include "radix/worker_directory.h"

namespace radixmesh::radix {

namespace {

constexpr size_t kHeaderBytes = 32;
constexpr size_t kMaxName = 4096;
constexpr uint32_t kMaxLevel = 1u << 20;

void put_u64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

uint64_t get_u64_at(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// Bounds-checked reader over the decoded payload.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool u64(uint64_t& v) {
    if (remaining() < 8) return false;
    v = get_u64_at(data_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool bytes(size_t n, std::string_view& out) {
    if (remaining() < n) return false;
    out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

Error corrupt(const std::string& what) {
  return make_error(ErrorCode::kCorrupt, "snapshot: " + what);
}

struct WorkerRow {
  uint64_t key;
  std::string_view url;
};

// A tombstone as decoded: worker is an index into the worker table.
struct TombstoneRow {
  uint64_t worker;
  BlockHash from;
  Hlc ts;
};

// Parses and validates the whole payload of a blob of `version`; calls
// on_node(chain, tenants) per node and on_tombstone(row) per tombstone.
// Fills the summary.
template <typename OnNode, typename OnTombstone>
Status parse_payload(std::string_view payload, uint16_t version, SnapshotSummary& sum,
                     std::vector<WorkerRow>& rows, OnNode&& on_node, OnTombstone&& on_tombstone) {
  Reader r(payload);
  uint64_t n = 0;
  std::string_view sv;
  if (!r.varint(n) || n > kMaxName || !r.bytes(n, sv)) return corrupt("model name");
  sum.model = std::string(sv);
  if (!r.varint(n) || n > r.remaining() / 9) return corrupt("worker count");
  rows.clear();
  for (uint64_t i = 0; i < n; ++i) {
    WorkerRow row{};
    uint64_t len = 0;
    if (!r.u64(row.key) || !r.varint(len) || len > kMaxName || !r.bytes(len, row.url)) {
      return corrupt("worker table");
    }
    if (WorkerDirectory::key_for_url(row.url) != row.key) return corrupt("worker key mismatch");
    rows.push_back(row);
    sum.worker_urls.emplace_back(row.url);
  }
  uint64_t nodes = 0;
  if (!r.varint(nodes) || nodes > r.remaining() / 3) return corrupt("node count");
  std::vector<BlockHash> chain;
  std::vector<size_t> ends;  // chain length at the end of each open level
  std::vector<TenantEntry> tenants;
  for (uint64_t i = 0; i < nodes; ++i) {
    uint64_t level = 0, len = 0, nt = 0;
    if (!r.varint(level) || level > ends.size() || level > kMaxLevel) return corrupt("node level");
    if (!r.varint(len) || len == 0 || len > r.remaining() / 8) return corrupt("edge length");
    ends.resize(level);
    chain.resize(level ? ends.back() : 0);
    for (uint64_t j = 0; j < len; ++j) {
      uint64_t h = 0;
      r.u64(h);
      if (h == 0) return corrupt("reserved block hash");
      chain.push_back(h);
    }
    ends.push_back(chain.size());
    if (!r.varint(nt) || nt == 0 || nt > r.remaining() / 9) return corrupt("tenant count");
    tenants.clear();
    for (uint64_t j = 0; j < nt; ++j) {
      uint64_t w = 0, ts = 0;
      if (!r.varint(w) || w >= rows.size() || !r.u64(ts)) return corrupt("tenant");
      tenants.push_back(TenantEntry{static_cast<WorkerId>(w), Hlc{ts}});
      sum.tenant_entries++;
    }
    sum.nodes++;
    sum.blocks += len;
    Status st = on_node(chain, tenants);
    if (!st.ok()) return st;
  }
  if (version >= 2) {
    uint64_t count = 0;
    if (!r.varint(count) || count > r.remaining() / 17) return corrupt("tombstone count");
    for (uint64_t i = 0; i < count; ++i) {
      TombstoneRow t{};
      uint64_t ts = 0;
      if (!r.varint(t.worker) || t.worker >= rows.size() || !r.u64(t.from) || !r.u64(ts)) {
        return corrupt("tombstone");
      }
      if (t.from == 0) return corrupt("reserved block hash in a tombstone");
      t.ts = Hlc{ts};
      sum.tombstones++;
      on_tombstone(t);
    }
  }
  if (r.remaining() != 0) return corrupt("trailing bytes");
  return Ok{};
}

// Header check + checksum + bounded decompression.
Result<std::string> unpack(std::string_view blob, size_t max_decoded_bytes, SnapshotSummary& sum) {
  if (blob.size() < kHeaderBytes) return corrupt("truncated header");
  const char* p = blob.data();
  const uint32_t magic = static_cast<uint32_t>(get_u64_at(p) & 0xffffffffu);
  const auto version = static_cast<uint16_t>((get_u64_at(p) >> 32) & 0xffff);
  const uint64_t decoded = get_u64_at(p + 8);
  const uint64_t compressed = get_u64_at(p + 16);
  const uint64_t checksum = get_u64_at(p + 24);
  if (magic != kSnapshotMagic) return corrupt("bad magic");
  if (version < kSnapshotMinVersion || version > kSnapshotVersion) {
    return make_error(ErrorCode::kUnsupported, "snapshot version " + std::to_string(version));
  }
  if (decoded > max_decoded_bytes || decoded > static_cast<uint64_t>(LZ4_MAX_INPUT_SIZE)) {
    return make_error(ErrorCode::kTooLarge, "snapshot decodes to " + std::to_string(decoded) +
                                                " bytes, cap " + std::to_string(max_decoded_bytes));
  }
  if (compressed != blob.size() - kHeaderBytes) return corrupt("truncated or padded payload");
  const std::string_view body = blob.substr(kHeaderBytes);
  if (XXH3_64bits(body.data(), body.size()) != checksum) return corrupt("checksum mismatch");
  std::string out(decoded, '\0');
  const int got = LZ4_decompress_safe(body.data(), out.data(), static_cast<int>(body.size()),
                                      static_cast<int>(decoded));
  if (got < 0 || static_cast<uint64_t>(got) != decoded) return corrupt("lz4 payload");
  sum.version = version;
  sum.compressed_bytes = blob.size();
  sum.decoded_bytes = decoded;
  return out;
}

}  // namespace

Result<std::string> encode_snapshot(const PrefixTree& tree, const WorkerDirectory& workers) {
  std::string nodes;
  std::unordered_map<WorkerId, uint32_t> table;
  std::vector<WorkerId> order;
  uint64_t count = 0;
  tree.visit([&](const NodeView& v) {
    put_varint(nodes, v.level);
    put_varint(nodes, v.edge.size());
    const size_t at = nodes.size();
    nodes.resize(at + v.edge.size() * 8);
    char* dst = nodes.data() + at;
    for (BlockHash h : v.edge) {
      for (int i = 0; i < 8; ++i) *dst++ = static_cast<char>(h >> (8 * i));
    }
    put_varint(nodes, v.tenants.size());
    for (const auto& t : v.tenants) {
      auto [it, fresh] = table.try_emplace(t.worker, static_cast<uint32_t>(order.size()));
      if (fresh) order.push_back(t.worker);
      put_varint(nodes, it->second);
      put_u64(nodes, t.ts.value);
    }
    ++count;
    return true;
  });
  // Read after the nodes: an eviction made meanwhile either removed an entry
  // not yet visited or leaves its tombstone here to remove it on the receiver.
  std::string tombs;
  uint64_t tomb_count = 0;
  for (const auto& t : tree.tombstones()) {
    if (workers.url_of(t.worker).empty()) continue;  // worker gone: nothing to void
    auto [it, fresh] = table.try_emplace(t.worker, static_cast<uint32_t>(order.size()));
    if (fresh) order.push_back(t.worker);
    put_varint(tombs, it->second);
    put_u64(tombs, t.from);
    put_u64(tombs, t.ts.value);
    ++tomb_count;
  }
  std::string payload;
  payload.reserve(nodes.size() + 64 * order.size() + 64);
  put_varint(payload, tree.model().size());
  payload.append(tree.model());
  put_varint(payload, order.size());
  for (WorkerId w : order) {
    const std::string url = workers.url_of(w);
    if (url.empty()) return make_error(ErrorCode::kInternal, "tenant without a worker url");
    put_u64(payload, workers.key_of(w));
    put_varint(payload, url.size());
    payload.append(url);
  }
  put_varint(payload, count);
  payload.append(nodes);
  put_varint(payload, tomb_count);
  payload.append(tombs);
  if (payload.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
    return make_error(ErrorCode::kTooLarge, "snapshot payload too large for one LZ4 block");
  }
  std::string out(
      kHeaderBytes + static_cast<size_t>(LZ4_compressBound(static_cast<int>(payload.size()))),
      '\0');
  const int csize = LZ4_compress_default(payload.data(), out.data() + kHeaderBytes,
                                         static_cast<int>(payload.size()),
                                         static_cast<int>(out.size() - kHeaderBytes));
  if (csize <= 0) return make_error(ErrorCode::kInternal, "lz4 compression failed");
  out.resize(kHeaderBytes + static_cast<size_t>(csize));
  std::string header;
  put_u64(header, uint64_t{kSnapshotMagic} | (uint64_t{kSnapshotVersion} << 32));
  put_u64(header, payload.size());
  put_u64(header, static_cast<uint64_t>(csize));
  put_u64(header, XXH3_64bits(out.data() + kHeaderBytes, static_cast<size_t>(csize)));
  std::memcpy(out.data(), header.data(), kHeaderBytes);
  return out;
}

Result<SnapshotSummary> inspect_snapshot(std::string_view blob, size_t max_decoded_bytes) {
  SnapshotSummary sum;
  auto payload = unpack(blob, max_decoded_bytes, sum);
  if (!payload.ok()) return payload.error();
  std::vector<WorkerRow> rows;
  Status st = parse_payload(
      *payload, sum.version, sum, rows, [](const auto&, const auto&) -> Status { return Ok{}; },
      [](const TombstoneRow&) {});
  if (!st.ok()) return st.error();
  return sum;
}

Status merge_snapshot(std::string_view blob, PrefixTree& tree, WorkerDirectory& workers,
                      size_t max_decoded_bytes) {
  SnapshotSummary sum;
  auto payload = unpack(blob, max_decoded_bytes, sum);
  if (!payload.ok()) return payload.error();
  std::vector<WorkerRow> rows;
  std::vector<TombstoneRow> tombstones;
  // Validate everything before touching the tree or the directory.
  Status st = parse_payload(
      *payload, sum.version, sum, rows, [](const auto&, const auto&) -> Status { return Ok{}; },
      [&](const TombstoneRow& t) { tombstones.push_back(t); });
  if (!st.ok()) return st;
  if (sum.model != tree.model()) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "snapshot is for model '" + sum.model + "', not '" + std::string(tree.model()) + "'");
  }
  std::vector<WorkerId> local;
  for (const auto& row : rows) {
    auto id = workers.intern(row.url);
    if (!id.ok()) return id.error();
    local.push_back(*id);
  }
  // Evictions first: they remove what the sender no longer holds and void
  // the older entries below.
  for (const auto& t : tombstones) tree.apply(EvictRecord{local[t.worker], t.from, t.ts});
  SnapshotSummary again;
  return parse_payload(
      *payload, sum.version, again, rows,
      [&](const std::vector<BlockHash>& chain, const std::vector<TenantEntry>& tenants) -> Status {
        for (const auto& t : tenants) {
          // Refused (too old) entries are skipped; the rest still merge.
          (void)tree.merge_chain(chain, local[t.worker], t.ts);
        }
        return Ok{};
      },
      [](const TombstoneRow&) {});
}

}  // namespace radixmesh::radix
