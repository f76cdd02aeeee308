// Trace replay: a Mooncake-format JSONL trace as a workload.
//
// One request per line, as in the Mooncake traces (FAST'25):
//   {"timestamp": 27482, "input_length": 6955, "output_length": 52,
//    "hash_ids": [46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 2353, 2354]}
// timestamp: ms from the start of the trace; input/output_length: tokens;
// hash_ids: one id per block of `block_tokens` (512) prompt tokens, the
// last block partial. The ids are prefix-chained in the trace (an id stands
// for its whole prefix), so requests sharing leading ids share a prefix.
//
// Each id becomes a deterministic text of block_tokens * 4 bytes (the
// simulated worker's 4 bytes per token): make_text(key(id)); the last block
// is cut to what input_length leaves, and a shorter text of a key is a
// prefix of a longer one, so shared ids are shared bytes. The prompt is one
// user message (chat) or the text (completions, generate); max_tokens is
// output_length. The runner sends line i at timestamp_i / speedup after the
// start (open loop, bounded by --max-in-flight, --requests, --duration).
//
// Bounds: at most kMaxLines lines of at most kMaxLineBytes, kMaxIds ids per
// line. A malformed line is an error naming the line (a trace that does not
// parse is not silently half-replayed).
#pragma once

#include <string>
#include <vector>

#include "tools/loadgen/loadgen_options.h"
#include "tools/loadgen/workload.h"

namespace radixmesh::tools::loadgen {

inline constexpr size_t kTraceMaxLines = 2'000'000;
inline constexpr size_t kTraceMaxLineBytes = 1 << 20;
inline constexpr size_t kTraceMaxIds = 65536;

// Parses the trace text into sessions (sorted by timestamp, ids in order).
// false with `error` set ("line 12: ...") when a line is malformed.
bool parse_trace(std::string_view text, const LoadgenOptions& o, std::vector<Session>& out,
                 std::string& error);

// Reads o.trace_path and parses it.
bool load_trace(const LoadgenOptions& o, std::vector<Session>& out, std::string& error);

}  // namespace radixmesh::tools::loadgen
