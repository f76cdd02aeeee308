// Snapshot chunking and reassembly: <= 1 MiB chunks, out-of-order and
// duplicate chunks, size caps, bounded buffers, peers vanishing; and the
// background worker that builds and merges snapshots.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <random>

#include "mesh/snapshot_transfer.h"
#include "mesh/snapshot_worker.h"
#include "mesh/sync_codec.h"

using namespace radixmesh;
using namespace radixmesh::mesh;

namespace {
struct Captured {
  NodeId to;
  std::string payload;
};
}  // namespace

TEST_CASE("a blob is cut into chunks and reassembled in any order, duplicates ignored") {
  std::mt19937_64 rng(1);
  auto blob = std::make_shared<std::string>(2'500'000, '\0');
  for (auto& c : *blob) c = static_cast<char>(rng());
  SnapshotSender s(kMaxSnapshotChunkData);
  s.start("b", "m", blob);
  std::vector<Captured> out;
  size_t done = 0;
  s.pump(
      [&](const NodeId& to, FrameType, std::string p) {
        out.push_back({to, std::move(p)});
        return true;
      },
      100, &done);
  REQUIRE(out.size() == 3);
  CHECK(done == 1);
  CHECK(s.queued() == 0);
  std::shuffle(out.begin(), out.end(), rng);
  out.push_back(out[0]);
  SnapshotAssembler a({});
  std::optional<SnapshotAssembler::Complete> complete;
  for (auto& cap : out) {
    CHECK(cap.payload.size() <= kMaxSnapshotChunkData + 300);
    auto chunk = decode_snapshot_chunk(cap.payload);
    REQUIRE(chunk.ok());
    auto r = a.add("a", *chunk, 0);
    REQUIRE(r.ok());
    if (r->has_value()) complete = std::move(**r);
  }
  REQUIRE(complete.has_value());
  CHECK(complete->model == "m");
  CHECK(complete->blob == *blob);
  CHECK(a.buffered_bytes() == 0);
}

TEST_CASE("a refused send leaves the rest for the next pump") {
  auto blob = std::make_shared<std::string>(3000, 'x');
  SnapshotSender s(1000);
  s.start("b", "m", blob);
  int budget = 1;
  size_t n = s.pump([&](const NodeId&, FrameType, std::string) { return budget-- > 0; }, 100);
  CHECK(n == 1);
  CHECK(s.queued() == 1);
  n = s.pump([&](const NodeId&, FrameType, std::string) { return true; }, 100);
  CHECK(n == 2);
  CHECK(s.queued() == 0);
}

TEST_CASE("reassembly refuses oversized claims, overflowing buffers and inconsistent chunks") {
  SnapshotAssemblerConfig cfg;
  cfg.max_snapshot_bytes = 10'000;
  cfg.max_total_bytes = 5'000;
  SnapshotAssembler a(cfg);
  std::string data(3000, 'y');
  CHECK(a.add("p", SnapshotChunk{1, "m", 20'000, 0, 20, data}, 0).error().code ==
        ErrorCode::kTooLarge);
  CHECK(a.add("p", SnapshotChunk{2, "m", 9000, 0, 3, data}, 0).ok());
  CHECK(a.buffered_bytes() == 3000);
  // Another transfer would push buffers past max_total_bytes.
  CHECK(a.add("q", SnapshotChunk{5, "m", 9000, 0, 3, data}, 0).error().code ==
        ErrorCode::kTooLarge);
  CHECK(a.buffered_bytes() == 3000);
  // A chunk disagreeing with its transfer drops it.
  CHECK_FALSE(a.add("p", SnapshotChunk{2, "other", 9000, 1, 3, data}, 0).ok());
  CHECK(a.buffered_bytes() == 0);
  CHECK(a.transfers() == 0);
  // More bytes than declared.
  CHECK(a.add("p", SnapshotChunk{3, "m", 4000, 0, 2, data}, 0).ok());
  CHECK_FALSE(a.add("p", SnapshotChunk{3, "m", 4000, 1, 2, data}, 0).ok());
  CHECK(a.buffered_bytes() == 0);
}

TEST_CASE("idle transfers expire and a vanished peer's buffers are freed") {
  SnapshotAssemblerConfig cfg;
  cfg.timeout_ms = 1000;
  SnapshotAssembler a(cfg);
  std::string data(100, 'z');
  REQUIRE(a.add("p", SnapshotChunk{1, "m", 300, 0, 3, data}, 0).ok());
  REQUIRE(a.add("q", SnapshotChunk{1, "m", 300, 0, 3, data}, 500).ok());
  CHECK(a.expire(1000) == 1);
  CHECK(a.buffered_bytes() == 100);
  a.drop_peer("q");
  CHECK(a.buffered_bytes() == 0);
  CHECK(a.transfers() == 0);
}

TEST_CASE("the snapshot worker runs jobs off-thread, completions on poll, bounded queue") {
  std::atomic<int> ran{0};
  int completed = 0;
  std::mutex gate;
  std::unique_lock hold(gate);  // keeps the first job running
  {
    SnapshotWorker w(2);
    CHECK(w.submit([&]() -> std::function<void()> {
      std::lock_guard wait(gate);
      ++ran;
      return [&] { ++completed; };
    }));
    CHECK(w.submit([&]() -> std::function<void()> {
      ++ran;
      return [&] { ++completed; };
    }));
    CHECK_FALSE(w.submit([]() -> std::function<void()> { return {}; }));  // full
    CHECK(w.poll() == 0);
    CHECK(completed == 0);  // completions never run on the worker thread
    hold.unlock();
    REQUIRE(w.wait_idle(5000));
    CHECK(w.poll() == 2);
    CHECK(completed == 2);
    CHECK(w.pending() == 0);
    CHECK(w.submit([&]() -> std::function<void()> { return [&] { ++completed; }; }));
  }  // destroyed with a job possibly pending: joins, drops the completion
  CHECK(ran.load() == 2);
  CHECK(completed == 2);
}
