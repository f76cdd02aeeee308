// Result<T>: a value or an Error, for hot paths that must not throw.
//
// The project returns errors as values on every data-plane path (request
// parsing, tree operations, codecs) and keeps exceptions for start-up and
// configuration. std::expected is C++23; this is the small subset we need.
//
// Thread safety: a plain value type.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace radixmesh {

// Stable machine-readable error kinds shared by all layers. Router code maps
// them to HTTP statuses; mesh code maps them to reject counters.
enum class ErrorCode {
  kInvalidArgument,  // malformed input: bad JSON shape, bad flag value
  kNotFound,         // unknown model, worker, anchor hash, peer
  kTooLarge,         // a bound was exceeded (body, frame, snapshot, array)
  kCorrupt,          // checksum/format error in binary input
  kUnsupported,      // unknown version or feature
  kUnavailable,      // nothing healthy to serve it
  kInternal,         // a bug: should not happen
};

const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void> equivalent.
struct Ok {};
using Status = Result<Ok>;

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

inline const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

}  // namespace radixmesh
