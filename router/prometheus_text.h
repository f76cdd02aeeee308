// Prometheus text exposition format (version 0.0.4), parsed one line at a time.
//
// What the router reads from a worker's GET /metrics. The grammar, per line:
//
//   # HELP name text          | # TYPE name type   | # anything else   (comments)
//   name [ "{" label="value" { "," label="value" } [","] "}" ] value [ timestamp ]
//
// names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*, label
// values with the escapes \\ \" \n, values any float including NaN, +Inf,
// -Inf, integer millisecond timestamps, blanks (space, tab) between tokens,
// "\n" or "\r\n" line ends. A line that breaks the grammar is skipped and
// counted as malformed; the lines around it still count (one bad exporter
// line must not blind the router to the rest of the scrape).
//
// Bounded: the body is at most `max_bytes` (longer: nothing is parsed and the
// result says so), at most `max_lines` lines and `max_labels` labels per
// sample are read, so the time is linear in a bounded input. A `want`
// filter is asked per sample name before its labels are parsed: a vLLM
// exposition is mostly histogram buckets the router never looks at, and
// skipping them costs one scan for the end of the line.
//
// Threads: parse_prometheus_text is reentrant; it allocates only the label
// scratch (reused across the lines of one call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace radixmesh::router {

struct PromLabel {
  std::string_view name;
  std::string value;  // unescaped
};

struct PromSample {
  std::string_view name;
  std::span<const PromLabel> labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;

  // The value of label `name`, or nullptr when the sample has none.
  const std::string* label(std::string_view name) const;
};

struct PromLimits {
  size_t max_bytes = 4 << 20;  // whole exposition
  size_t max_lines = 200000;
  size_t max_labels = 32;  // per sample; more: the line is malformed
};

struct PromStats {
  size_t lines = 0;             // lines read (including comments and blanks)
  size_t samples = 0;           // samples handed to on_sample
  size_t filtered = 0;          // sample lines `want` declined (not parsed further)
  size_t comments = 0;          // HELP, TYPE and other '#' lines
  size_t malformed = 0;         // lines skipped for breaking the grammar
  bool too_large = false;       // body over max_bytes: nothing parsed
  bool line_limit_hit = false;  // stopped after max_lines
};

// `want(name)`: parse this sample (empty function: every sample).
// `on_sample`: called for every well-formed, wanted sample, in order.
PromStats parse_prometheus_text(std::string_view body,
                                const std::function<bool(std::string_view)>& want,
                                const std::function<void(const PromSample&)>& on_sample,
                                const PromLimits& limits = {});

// A Prometheus float: NaN, +Inf, -Inf, Inf (any case, as Go's ParseFloat) or
// a decimal/exponent literal. nullopt when `text` is not one.
std::optional<double> parse_prom_value(std::string_view text);

}  // namespace radixmesh::router
