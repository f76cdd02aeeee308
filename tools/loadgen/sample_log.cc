#include "tools/loadgen/sample_log.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace radixmesh::tools::loadgen {

const char* to_string(SessionKind k) {
  switch (k) {
    case SessionKind::kConversation:
      return "conversation";
    case SessionKind::kSharedPrefix:
      return "shared-prefix";
    case SessionKind::kUnique:
      return "unique";
    case SessionKind::kTrace:
      return "trace";
  }
  return "?";
}

const char* cause_string(Cause c) {
  switch (c) {
    case Cause::kOk:
      return "ok";
    case Cause::kHttpStatus:
      return "http";
    case Cause::kConnect:
      return "connect";
    case Cause::kTimeout:
      return "timeout";
    case Cause::kIo:
      return "io";
    case Cause::kProtocol:
      return "protocol";
  }
  return "other";
}

SampleLog::SampleLog(const std::string& path) : f_(std::fopen(path.c_str(), "w")) {
  if (!f_) throw std::runtime_error("cannot write " + path);
}

SampleLog::~SampleLog() {
  std::fclose(f_);
}

void SampleLog::write(const Session& s, size_t turn, const std::string& target, double start_ms,
                      const Outcome& o) {
  auto r3 = [](double x) { return static_cast<double>(static_cast<int64_t>(x * 1000)) / 1000; };
  nlohmann::json j = {{"session", s.id},
                      {"turn", turn},
                      {"kind", to_string(s.kind)},
                      {"target", target},
                      {"start_ms", r3(start_ms)},
                      {"ttft_ms", r3(o.ttft_ms)},
                      {"latency_ms", r3(o.latency_ms)},
                      {"outcome", cause_string(o.cause)},
                      {"status", o.status},
                      {"worker", o.worker_id},
                      {"prompt_tokens", o.prompt_tokens},
                      {"cached_tokens", o.cached_tokens},
                      {"completion_tokens", o.completion_tokens}};
  std::string line = j.dump();
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), f_);
}

}  // namespace radixmesh::tools::loadgen
