// Aligned plain-text tables and human-friendly numbers for radixmesh-ctl.
//
// Threads: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace radixmesh::tools {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // Columns padded to their widest cell, two spaces apart, no trailing spaces.
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "1.5 MiB", "312 B".
std::string human_bytes(uint64_t bytes);
// "4s", "3m 12s", "2h 5m", "3d 4h".
std::string human_duration_ms(uint64_t ms);

}  // namespace radixmesh::tools
