// make_seeds: writes the small seed corpora of the fuzz targets.
//
//   build-asan/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
//
// Seeds are valid encodings produced by the real encoders (frames, sync and
// membership payloads, a snapshot of a small tree, request bodies), so the
// fuzzers start from inputs that reach deep into the decoders. Each target's
// first input byte is its mode selector (see the target), prepended here.
// Run once when an encoding changes; the output is committed.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mesh/frame.h"
#include "mesh/membership_codec.h"
#include "mesh/sync_codec.h"
#include "radix/prefix_tree.h"
#include "radix/snapshot_codec.h"
#include "radix/worker_directory.h"

using namespace radixmesh;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string sel(int s) {
  return std::string(1, static_cast<char>(s));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];

  mesh::DeltaBatch batch;
  batch.seq = 7;
  batch.events.push_back({mesh::WorkerEvent::Kind::kAdded, 11, 5, "http://127.0.0.1:9000"});
  mesh::ModelDelta md;
  md.model = "m";
  md.records.push_back({mesh::DeltaRecord::Kind::kInsert, 11, 0, {1, 2, 3}, 100});
  md.records.push_back({mesh::DeltaRecord::Kind::kInsert, 11, 3, {4, 5}, 101});
  md.records.push_back({mesh::DeltaRecord::Kind::kEvict, 11, 4, {}, 102});
  batch.models.push_back(md);
  mesh::AnchorReply reply{"m", 3, {1, 2, 3}, {{11, 100}}};
  mesh::Digest digest{{{"m", 42}}};
  mesh::LoadReport load{{{11, 3}, {12, 0}}};
  mesh::MemberUpdate mu{"node-a", "127.0.0.1:7000", 3, mesh::MemberState::kAlive};
  mesh::PingMsg ping{9, "node-b", {mu}};
  mesh::MembershipMsg members{true,
                              {mu, {"node-b", "127.0.0.1:7001", 1, mesh::MemberState::kAlive}}};

  // sync payloads: selector = index of the decoder in fuzz_sync_payload.cc
  const fs::path sp = root / "sync_payload";
  put(sp, "delta_batch", sel(0) + mesh::encode(batch));
  put(sp, "delta_ack", sel(1) + mesh::encode(mesh::DeltaAck{{1, 2, 3}}));
  put(sp, "anchor_request", sel(2) + mesh::encode(mesh::AnchorRequest{"m", 3}));
  put(sp, "anchor_reply", sel(3) + mesh::encode(reply));
  put(sp, "digest", sel(4) + mesh::encode(digest));
  put(sp, "snapshot_request", sel(5) + mesh::encode(mesh::SnapshotRequest{"m"}));
  mesh::SnapshotChunk chunk;
  chunk.snapshot_id = 1;
  chunk.model = "m";
  chunk.total_bytes = 5;
  chunk.count = 1;
  chunk.data = "abcde";
  put(sp, "snapshot_chunk", sel(6) + mesh::encode(chunk));
  put(sp, "load_report", sel(7) + mesh::encode(load));
  put(sp, "worker_event", sel(8) + mesh::encode(batch.events[0]));
  put(sp, "ping", sel(9) + mesh::encode(ping));
  put(sp, "ping_ack", sel(10) + mesh::encode(mesh::PingAckMsg{9, false, {mu}}));
  put(sp, "ping_req",
      sel(11) + mesh::encode(mesh::PingReqMsg{9, "node-b", "127.0.0.1:7001", {mu}}));
  put(sp, "membership", sel(12) + mesh::encode(members));
  put(sp, "leave", sel(13) + mesh::encode(mesh::LeaveMsg{"node-a", 4}));

  // frames: a stream of several frames (selector 0: full-size payload bound)
  const fs::path fr = root / "frame";
  std::string stream = mesh::encode_frame(mesh::FrameType::kPing, mesh::encode(ping)) +
                       mesh::encode_frame(mesh::FrameType::kDeltaBatch, mesh::encode(batch)) +
                       mesh::encode_frame_raw(60, "unknown type", mesh::kProtocolVersion) +
                       mesh::encode_frame(mesh::FrameType::kDigest, mesh::encode(digest));
  put(fr, "stream", sel(0) + stream);
  put(fr, "small_bound",
      sel(1) + mesh::encode_frame(mesh::FrameType::kLoadReport, mesh::encode(load)));

  // snapshot: a real blob (raw mode) of a small tree with two workers
  radix::WorkerDirectory dir;
  radix::PrefixTree::Options o;
  o.model = "m";
  o.workers = &dir;
  radix::PrefixTree tree(o, nullptr);
  const auto w1 = dir.intern("http://127.0.0.1:9000").value();
  const auto w2 = dir.intern("http://127.0.0.1:9001").value();
  tree.insert(std::vector<radix::BlockHash>{1, 2, 3, 4}, w1, radix::Hlc::from_parts(10, 0));
  tree.insert(std::vector<radix::BlockHash>{1, 2, 7}, w2, radix::Hlc::from_parts(11, 0));
  tree.insert(std::vector<radix::BlockHash>{9, 8}, w2, radix::Hlc::from_parts(12, 0));
  put(root / "snapshot", "two_workers", sel(0) + radix::encode_snapshot(tree, dir).value());

  // delta apply: a few operations (bytes are read as described in the target)
  put(root / "delta_apply", "ops",
      std::string("\x02\x00\x05\x00\x00\x08\x1b\x01\x10\x06\x01\x03\x04\x1b\x02\x20\x07\x00\x01\x00"
                  "\x03\x31\x08\x00\x03\x05\x39\x04\x01\x00\x00\x06\x1b",
                  33));

  // request bodies: selector = endpoint (0 chat, 1 completions, 2 generate,
  // 3 responses, 4 embeddings)
  const fs::path cp = root / "canonical_prompt";
  put(cp, "chat",
      sel(0) + R"({"model":"m","stream":true,"user":"u1","messages":[)"
               R"({"role":"system","content":"be brief"},)"
               R"({"role":"user","content":[{"type":"text","text":"hi"}]},)"
               R"({"role":"assistant","content":"hello","tool_calls":[{"id":"c1",)"
               R"("type":"function","function":{"name":"f","arguments":"{}"}}]}],)"
               R"("tools":[{"type":"function","function":{"name":"f"}}]})");
  put(cp, "completions", sel(1) + R"({"model":"m","prompt":["one","two"]})");
  put(cp, "generate", sel(2) + R"({"input_ids":[1,2,3,4,5]})");
  put(cp, "responses",
      sel(3) + R"({"model":"m","instructions":"sys","input":[)"
               R"({"role":"user","content":"q"}]})");
  put(cp, "embeddings", sel(4) + R"({"model":"m","input":[[1,2],[3]]})");

  // HTTP: pipelined requests as a client sends them
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"hello there"}]})";
  put(root / "http_request", "pipelined",
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "X-Session-Id: s1\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body +
          "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
          "10\r\n{\"prompt\":\"abc\"}\r\n0\r\n\r\n"
          "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  // ...and one seed per answer the router gives (fuzz_http_request runs them
  // through a real session to fake workers).
  const auto post = [](const std::string& path, const std::string& b,
                       const std::string& extra = "") {
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + extra +
           "Content-Length: " + std::to_string(b.size()) + "\r\n\r\n" + b;
  };
  const fs::path hr = root / "http_request";
  put(hr, "local_routes",
      "GET /readiness HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v1/models?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n" +
          post("/health", "{}"));
  put(hr, "errors",
      post("/v1/chat/completions", "{not json") +
          post("/v1/completions", R"({"model":"nobody","prompt":"x"})") +
          post("/v1/embeddings", R"({"model":"m","input":"fake-worker-500"})") +
          post("/generate", R"({"text":"fake-worker-close"})"));
  put(hr, "expect_continue",
      post("/v1/responses", R"({"model":"m","input":"hi"})", "Expect: 100-continue\r\n") +
          post("/v1/chat/completions", body, "Connection: close\r\n") +
          "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  put(hr, "http10",
      "POST /v1/completions HTTP/1.0\r\nContent-Length: 14\r\n\r\n"
      R"({"prompt":"a"})");
  put(hr, "body_too_large", "POST /v1/completions HTTP/1.1\r\nContent-Length: 9000\r\n\r\n");
  put(hr, "header_too_large",
      "GET /health HTTP/1.1\r\nX-Pad: " + std::string(5000, 'a') + "\r\n\r\n");
  put(hr, "malformed", "GET /health HTTP/1.1\r\nHost: x\r\n\r\nBREW\x01 / HTTP/9\r\n\r\n");
  // Malformed framings : Transfer-Encoding other than exactly
  // chunked (400, or 501 for an unimplemented coding before chunked), and
  // chunk lines ending in a bare LF (400 at once, not at the deadline).
  // Each after a request that is served, so the refusal ends a keep-alive.
  const std::string health = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string te_post = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ";
  const std::string te_chunk = "e\r\n{\"prompt\":\"a\"}\r\n0\r\n\r\n";
  put(hr, "te_gzip_chunked", health + te_post + "gzip, chunked\r\n\r\n" + te_chunk);
  put(hr, "te_xchunked", health + te_post + "xchunked\r\n\r\n" + health);
  put(hr, "te_identity", health + te_post + "identity\r\n\r\n" + health);
  put(hr, "te_chunked_not_final", health + te_post + "chunked, gzip\r\n\r\n" + te_chunk);
  put(hr, "te_http10",
      "POST /v1/completions HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + te_chunk);
  put(hr, "chunk_size_bare_lf",
      health + te_post + "chunked\r\n\r\ne\n{\"prompt\":\"a\"}\r\n0\r\n\r\n");
  put(hr, "chunk_trailer_bare_lf",
      health + te_post + "chunked\r\n\r\ne\r\n{\"prompt\":\"a\"}\r\n0\r\nX-T: 1\n\r\n");
  return 0;
}
