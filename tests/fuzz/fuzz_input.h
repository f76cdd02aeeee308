// FuzzInput: a bounded reader over the bytes libFuzzer hands a target.
//
// Each fuzz target turns its input into a sequence of operations; this reader
// gives integers and byte runs from the front and zeros once the input is
// exhausted, so every input is a valid (if short) operation sequence and the
// targets never read out of bounds.
//
// Thread safety: a plain value used by one target call.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace radixmesh::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  size_t remaining() const { return size_ - pos_; }

  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (uint16_t{u8()} << 8)); }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{u8()} << (8 * i);
    return v;
  }
  // Up to `max` bytes (fewer when the input runs out).
  std::string_view bytes(size_t max) {
    const size_t n = std::min(max, remaining());
    std::string_view out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }
  std::string_view rest() { return bytes(remaining()); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Aborts the process (a finding for libFuzzer) when `ok` is false, after
// naming the broken property on stderr.
inline void fuzz_check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_check failed: %s\n", what);
    __builtin_trap();
  }
}

}  // namespace radixmesh::fuzz
