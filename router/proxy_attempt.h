// The state of one upstream attempt, shared by the plain flow
// (router/proxy.cc) and the prefill/decode flows (router/pd_proxy.cc).
// Private to the proxy: nothing else includes this header.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "router/proxy.h"
#include "router/response_relay.h"
#include "router/retry_policy.h"
#include "router/usage_tail.h"

namespace radixmesh::router {

// The workers a request already tried (excluded from its next choice): at
// most one per attempt, --max-retries being at most 16. No allocation.
class TriedWorkers {
 public:
  void push_back(radix::WorkerId id) {
    if (size_ < ids_.size()) ids_[size_++] = id;
  }
  operator std::span<const radix::WorkerId>() const { return {ids_.data(), size_}; }

 private:
  std::array<radix::WorkerId, 17> ids_{};
  size_t size_ = 0;
};

struct Proxy::Attempt {
  enum class Kind { kDone, kFailed, kClientGone, kBrokenAfterBytes, kCutByRouter };
  RouteChoice choice;
  Kind kind = Kind::kFailed;
  AttemptFailure failure = AttemptFailure::kReset;
  error_code error;
  unsigned status = 0;
  bool client_keep_alive = false;
  bool bytes_sent = false;  // some response byte reached the client
  Clock::time_point first_byte_at{};
  RelayAbort cut = RelayAbort::kNone;  // kCutByRouter: which limit
  std::optional<ReportedUsage> usage;  // the worker's usage report, when read
  // Where kIncludeUsageMember is spliced into the body (router/stream_usage.h);
  // nullopt: the body goes out as the client sent it.
  std::optional<size_t> include_usage_at;
  // PD: members spliced in at this offset (the closing brace; after any
  // include_usage splice); empty: none.
  size_t tail_at = 0;
  std::string_view tail_members;
  bool feedback = true;  // the usage report trims this engine's tree
  // PD: the prefill leg running beside this one (SGLang); null otherwise.
  std::shared_ptr<LegLink> link;
};

// The two legs of one SGLang pair, on one io thread. Each names its upstream
// stream while the other may still need to cancel it.
struct Proxy::LegLink {
  ByteStream* decode_upstream = nullptr;   // until the decode's header arrived
  ByteStream* prefill_upstream = nullptr;  // while the prefill exchange runs
  bool prefill_failed = false;             // the prefill leg failed or was refused
  bool prefill_done = false;
  bool cancel_prefill = false;          // the decode leg ended: the prefill may stop
  net::steady_timer* linger = nullptr;  // the decode leg waiting for the prefill to end
};

}  // namespace radixmesh::router
