// SampleLog: one JSON line per request ended, for plots and offline analysis
// (--samples FILE). Fields: session, turn, kind, target, start_ms (since the
// run started), ttft_ms, latency_ms, outcome ("ok" or a failure cause),
// status, worker, prompt_tokens, cached_tokens, completion_tokens.
//
// Thread safety: single-threaded (the load generator's one io thread).
// Bounded: one line per request, and the run is bounded.
#pragma once

#include <cstdio>
#include <string>

#include "tools/loadgen/http_target.h"
#include "tools/loadgen/workload.h"

namespace radixmesh::tools::loadgen {

class SampleLog {
 public:
  // Opens (truncates) `path`; throws std::runtime_error when it cannot.
  explicit SampleLog(const std::string& path);
  ~SampleLog();
  SampleLog(const SampleLog&) = delete;
  SampleLog& operator=(const SampleLog&) = delete;

  void write(const Session& s, size_t turn, const std::string& target, double start_ms,
             const Outcome& o);

 private:
  std::FILE* f_;
};

const char* to_string(SessionKind k);
const char* cause_string(Cause c);

}  // namespace radixmesh::tools::loadgen
