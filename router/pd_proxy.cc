// The prefill/decode flows of Proxy::forward (router/proxy.h,
// router/pd_routing.h).
//
// SGLang (--pd-mode sglang), per attempt:
//   choose a prefill worker (its pool's policy; the tree learns the prompt
//   there) and a decode worker; draw a 63-bit bootstrap_room; splice
//   bootstrap_host/port/room into the body (router/pd_body.h); send it to
//   both at once: the prefill leg is read whole and discarded, the decode
//   leg is relayed to the client as it arrives (the plain attempt()).
//   A prefill that fails before the decode answered cancels the decode;
//   a decode that fails cancels the prefill; either way, before a byte
//   reached the client, the pair is retried (new room, the failed worker
//   excluded), at most --max-retries times. A prefill still busy when the
//   decode ended gets kPrefillGrace, then is cancelled.
// vLLM (--pd-mode vllm), per attempt:
//   the prefill worker gets a copy with kv_transfer_params
//   {do_remote_decode: true, ...}, stream false, max_tokens 1, answered
//   whole (at most kMaxPrefillAnswerBytes); its failures are retried on
//   another prefill worker. Then the decode worker gets the client's body
//   with the answer's kv_transfer_params spliced in, verbatim, relayed.
//   A decode failure before the first byte retries the whole pair.
//   --pd-bypass-bytes: a request whose uncached part on the chosen prefill
//   worker is that small goes to a decode worker alone.
//
// A prefill leg's 4xx (but 429) is the request's fault: it is relayed to the
// client and nothing is retried. Its usage report trims the prefill pool's
// tree (cached-token feedback), as a plain request's does.
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>

#include "router/client_watch.h"
#include "router/fd_budget.h"
#include "router/headers.h"
#include "router/local_response.h"
#include "router/pd_body.h"
#include "router/proxy.h"
#include "router/proxy_attempt.h"
#include "router/retry_policy.h"
#include "router/usage_tail.h"
#include "router/wire_format.h"

namespace radixmesh::router {
namespace {

constexpr size_t kMaxPrefillHeaderBytes = 64 * 1024;
// A prefill's answer is one token (vLLM) or the first one (SGLang): small.
// Past this the rest is not read (the connection closes).
constexpr size_t kMaxPrefillAnswerBytes = 1024 * 1024;
// How long a prefill that has not answered yet may take after its decode
// leg ended, before it is cancelled (its KV was delivered: the decode ran).
constexpr auto kPrefillGrace = std::chrono::milliseconds(1000);

bool is_reset(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == http::error::partial_message;
}

// Endpoints that are split into prefill and decode; others go to a decode
// worker as they are.
bool is_pd_kind(PdMode mode, RouteKind kind) {
  if (kind == RouteKind::kChat || kind == RouteKind::kCompletions) return true;
  return mode == PdMode::kSglang && kind == RouteKind::kGenerate;
}

}  // namespace

struct Proxy::PrefillLeg {
  enum class Outcome { kOk, kFailed, kRefused, kCancelled };
  RouteChoice choice;
  std::string head;
  std::string_view body;          // sent after the head, cut at tail_at
  size_t tail_at = 0;             // where tail_members go (SGLang)
  std::string_view tail_members;  // empty: the body as it is (vLLM's copy)
  std::shared_ptr<LegLink> link;  // SGLang: shared with the decode leg
  ByteStream* client = nullptr;   // vLLM: watched while the prefill runs
  WatchArmer* watches = nullptr;  // the io thread's (router/client_watch.h)
  // What happened.
  Outcome outcome = Outcome::kFailed;
  AttemptFailure failure = AttemptFailure::kReset;
  error_code error;
  unsigned status = 0;
  std::string answer;  // the body, at most kMaxPrefillAnswerBytes
};

bool Proxy::is_pd_request(RouteKind kind) const {
  return pd_ && is_pd_kind(pd_->mode(), kind);
}

awaitable<void> Proxy::prefill_exchange(PrefillLeg& leg, UpstreamPool& pool) const {
  using Outcome = PrefillLeg::Outcome;
  const std::shared_ptr<Worker> worker = leg.choice.guard.worker();
  std::optional<WatchScope> watch;
  if (leg.client) watch.emplace(*leg.client, leg.watches);
  auto stopped = [&] {
    return (leg.link && leg.link->cancel_prefill) || (watch && (*watch)->client_gone);
  };
  auto finish = [&](Outcome outcome) {
    leg.outcome = outcome;
    if (!leg.link) return;
    LegLink& link = *leg.link;
    link.prefill_done = true;
    if (outcome == Outcome::kFailed || outcome == Outcome::kRefused) {
      link.prefill_failed = true;
      if (link.decode_upstream) link.decode_upstream->cancel();  // it waits for our KV
    }
    if (link.linger) link.linger->cancel();
  };

  for (int round = 0; round < 2; ++round) {
    auto [ec, lease] = co_await pool.acquire(worker, /*fresh=*/round > 0);
    if (stopped()) co_return finish(Outcome::kCancelled);
    if (ec) {
      leg.error = ec;
      leg.failure = ec == RouterErrc::kPoolExhausted     ? AttemptFailure::kPoolExhausted
                    : ec == RouterErrc::kUpstreamTimeout ? AttemptFailure::kConnectTimeout
                    : is_local_resource_error(ec)        ? AttemptFailure::kLocalResources
                    : is_tls_error(ec)                   ? AttemptFailure::kTlsHandshake
                                                         : AttemptFailure::kConnectRefused;
      co_return finish(Outcome::kFailed);
    }
    ByteStream& up = lease.stream();
    struct Linked {  // the decode leg or the client watch may cancel `up` while it is ours
      LegLink* link;
      ClientWatch* watch;
      ~Linked() {
        if (link) link->prefill_upstream = nullptr;
        if (watch) watch->upstream = nullptr;
      }
    } linked{leg.link.get(), watch ? &**watch : nullptr};
    if (linked.link) linked.link->prefill_upstream = &up;
    if (linked.watch) linked.watch->upstream = &up;

    up.expires_after(options_.idle_timeout);
    std::array<net::const_buffer, 4> bytes{net::buffer(leg.head)};
    size_t parts = 1;
    if (leg.tail_members.empty()) {
      bytes[parts++] = net::buffer(leg.body.data(), leg.body.size());
    } else {
      bytes[parts++] = net::buffer(leg.body.data(), leg.tail_at);
      bytes[parts++] = net::buffer(leg.tail_members.data(), leg.tail_members.size());
      bytes[parts++] = net::buffer(leg.body.data() + leg.tail_at, leg.body.size() - leg.tail_at);
    }
    auto [wec, written] = co_await net::async_write(
        up, std::span<const net::const_buffer>(bytes.data(), parts), use_tuple);
    if (stopped()) co_return finish(Outcome::kCancelled);
    if (wec) {
      if (lease.reused()) continue;  // stale keep-alive connection
      leg.error = wec;
      leg.failure =
          wec == beast::error::timeout ? AttemptFailure::kFirstByteTimeout : AttemptFailure::kReset;
      co_return finish(Outcome::kFailed);
    }

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(kMaxPrefillHeaderBytes);
    parser.body_limit(kMaxPrefillAnswerBytes);
    up.expires_after(options_.first_byte_timeout);
    auto [rec, got] = co_await http::async_read_header(up, buffer, parser, use_tuple);
    if (stopped()) co_return finish(Outcome::kCancelled);
    if (rec) {
      if (lease.reused() && !parser.got_some() && is_reset(rec)) continue;  // stale
      leg.error = rec;
      leg.failure = rec == beast::error::timeout ? AttemptFailure::kFirstByteTimeout
                    : is_reset(rec)              ? AttemptFailure::kReset
                                                 : AttemptFailure::kBadResponse;
      co_return finish(Outcome::kFailed);
    }
    leg.status = parser.get().result_int();
    up.expires_after(options_.idle_timeout);
    auto [bec, body_bytes] = co_await http::async_read(up, buffer, parser, use_tuple);
    if (stopped()) co_return finish(Outcome::kCancelled);
    const bool whole = !bec;
    if (bec && bec != http::error::body_limit) {
      leg.error = bec;
      leg.failure =
          bec == beast::error::timeout ? AttemptFailure::kFirstByteTimeout : AttemptFailure::kReset;
      co_return finish(Outcome::kFailed);
    }
    leg.answer = std::move(parser.get().body());  // over the limit: what was read
    if (whole) lease.release(parser.get().keep_alive());
    if (leg.status == 429 || leg.status >= 500) {
      leg.failure = leg.status == 429 ? AttemptFailure::kStatus429 : AttemptFailure::kStatus5xx;
      co_return finish(Outcome::kFailed);
    }
    if (leg.status < 200 || leg.status >= 300) co_return finish(Outcome::kRefused);
    co_return finish(Outcome::kOk);
  }
  leg.failure = AttemptFailure::kReset;
  finish(Outcome::kFailed);
}

void Proxy::settle_prefill(PrefillLeg& leg, const ClientExchange& ex) const {
  using Outcome = PrefillLeg::Outcome;
  using M = DataPlaneMetrics;
  Worker& w = leg.choice.worker();
  const int64_t now = now_ms();
  M::PdOutcome counted = M::PdOutcome::kOk;
  switch (leg.outcome) {
    case Outcome::kOk: {
      w.breaker().on_success(leg.choice.probe);
      const std::optional<ReportedUsage> usage =
          feedback_
              ? find_reported_usage(std::string_view(leg.answer)
                                        .substr(leg.answer.size() -
                                                std::min(leg.answer.size(), UsageTail::kTailBytes)))
              : std::nullopt;
      if (usage) feed_back(ex, w, leg.choice, *usage, now);
      break;
    }
    case Outcome::kRefused:
      w.breaker().on_success(leg.choice.probe);  // it answered: alive
      counted = M::PdOutcome::kRefused;
      break;
    case Outcome::kCancelled:
      w.breaker().on_abandoned(leg.choice.probe);
      counted = M::PdOutcome::kCancelled;
      break;
    case Outcome::kFailed: {
      const RetryDecision d = decide_retry(leg.failure, 0, 0, /*bytes_sent=*/false);
      if (d.breaker_failure) {
        w.breaker().on_failure(now, leg.choice.probe);
      } else {
        w.breaker().on_abandoned(leg.choice.probe);
      }
      if (d.mark_unhealthy) w.set_healthy(false);
      if (metrics_ && leg.failure != AttemptFailure::kLocalResources) {
        metrics_->upstream_error(w, to_string(leg.failure));
      }
      counted = M::PdOutcome::kFailed;
      break;
    }
  }
  if (metrics_) metrics_->pd_leg(M::PdRole::kPrefill, counted);
}

awaitable<void> Proxy::decode_leg(Attempt& a, ClientExchange& ex, UpstreamPool& pool,
                                  bool can_retry) const {
  co_await attempt(a, ex, pool, can_retry);
  LegLink& link = *a.link;
  if (link.prefill_done) co_return;
  if (a.kind == Attempt::Kind::kDone) {  // the prefill may be answering right now
    net::steady_timer grace(co_await net::this_coro::executor);
    grace.expires_after(kPrefillGrace);
    link.linger = &grace;
    co_await grace.async_wait(use_tuple);
    link.linger = nullptr;
    if (link.prefill_done) co_return;
  }
  link.cancel_prefill = true;
  if (link.prefill_upstream) link.prefill_upstream->cancel();
}

namespace {

using PdOutcome = DataPlaneMetrics::PdOutcome;

// The decode leg's outcome for radixmesh_pd_legs_total.
template <typename AttemptT>
PdOutcome decode_outcome(const AttemptT& a, bool ended_by_prefill) {
  if (ended_by_prefill) return PdOutcome::kCancelled;
  switch (a.kind) {
    case AttemptT::Kind::kDone:
      return a.status >= 500                      ? PdOutcome::kFailed
             : a.status >= 400 && a.status != 429 ? PdOutcome::kRefused
                                                  : PdOutcome::kOk;
    case AttemptT::Kind::kClientGone:
    case AttemptT::Kind::kCutByRouter:
      return PdOutcome::kCancelled;
    default:
      return PdOutcome::kFailed;
  }
}

}  // namespace

Proxy::Settled Proxy::prefill_failure(const PrefillLeg& leg, const ClientExchange& ex,
                                      int attempt_no, ProxyResult& result) const {
  const Worker& w = leg.choice.worker();
  const RetryDecision d =
      decide_retry(leg.failure, attempt_no, options_.max_retries, /*bytes_sent=*/false);
  Settled s;
  s.error = d.final_error;
  s.message = (options_.expose_worker_address ? "prefill worker " + w.url()
                                              : std::string("prefill worker")) +
              ": " + std::string(to_string(leg.failure));
  if (leg.status) s.message += " (status " + std::to_string(leg.status) + ")";
  if (d.retry && leg.choice.candidates > 1) {
    ++result.retries;
    if (metrics_) metrics_->retry(ex.kind);
    s.next = Settled::Next::kRetry;
    return s;
  }
  s.next = Settled::Next::kAnswerError;
  s.keep_alive = ex.keep_alive;
  return s;
}

awaitable<void> Proxy::relay_refusal(PrefillLeg& leg, ClientExchange& ex,
                                     ProxyResult& result) const {
  const error_code ec = co_await write_json(ex.client, leg.status, std::move(leg.answer),
                                            ex.keep_alive, ex.request.version());
  result.status = leg.status;
  result.keep_alive = ex.keep_alive && !ec;
}

awaitable<ProxyResult> Proxy::forward_sglang(ClientExchange& ex, RoutingScratch& scratch,
                                             UpstreamPool& pool) const {
  using Outcome = PrefillLeg::Outcome;
  ProxyResult result;
  const std::string_view body = ex.request.body();
  const std::optional<MemberSplice> splice = closing_member_splice(body);
  if (!splice) {
    co_await answer_error(
        Settled{Settled::Next::kAnswerError, RouterErrc::kBadRequest,
                "--pd-mode sglang: the body must be a JSON object", ex.keep_alive},
        ex, result);
    co_return result;
  }
  const auto executor = co_await net::this_coro::executor;
  TriedWorkers tried_prefill, tried_decode;
  RouterErrc last_error = RouterErrc::kNoHealthyWorker;
  std::string last_message;
  for (int attempt_no = 0;; ++attempt_no) {
    std::optional<RouteChoice> prefill =
        co_await route(ex, scratch, engine_, tried_prefill, attempt_no, last_error, last_message,
                       "prefill", result);
    if (!prefill) co_return result;
    std::optional<RouteChoice> decode =
        co_await route(ex, scratch, pd_->decode(), tried_decode, attempt_no, last_error,
                       last_message, "decode", result);
    if (!decode) {
      prefill->worker().breaker().on_abandoned(prefill->probe);
      co_return result;
    }

    auto link = std::make_shared<LegLink>();
    PrefillLeg leg;
    leg.choice = std::move(*prefill);
    Worker& pw = leg.choice.worker();
    const std::string members =
        sglang_bootstrap_members(*splice, pw.address().host, pd_->bootstrap_port_of(pw.url()),
                                 bootstrap_room_from(scratch.rng.next()));
    leg.body = body;
    leg.tail_at = splice->offset;
    leg.tail_members = members;
    leg.link = link;
    build_head(leg.head, ex, pw, body.size() + members.size());

    Attempt a;
    a.choice = std::move(*decode);
    Worker& dw = a.choice.worker();
    a.tail_at = splice->offset;
    a.tail_members = members;
    a.feedback = false;  // the prefill pool's tree hears the prefill's report
    a.link = link;
    build_head(ex.buffers.request_head, ex, dw, body.size() + members.size());
    const bool can_retry =
        attempt_no < options_.max_retries && (a.choice.candidates > 1 || leg.choice.candidates > 1);

    auto [order, prefill_error, decode_error] =
        co_await net::experimental::make_parallel_group(
            net::co_spawn(executor, prefill_exchange(leg, pool), net::deferred),
            net::co_spawn(executor, decode_leg(a, ex, pool, can_retry), net::deferred))
            .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
    if (prefill_error) std::rethrow_exception(prefill_error);
    if (decode_error) std::rethrow_exception(decode_error);
    settle_prefill(leg, ex);

    // The prefill's failure ended a pair whose decode had not answered.
    const bool prefill_ended_it = link->prefill_failed && a.kind == Attempt::Kind::kFailed;
    if (metrics_) {
      metrics_->pd_leg(DataPlaneMetrics::PdRole::kDecode, decode_outcome(a, prefill_ended_it));
    }
    if (prefill_ended_it) {
      dw.breaker().on_abandoned(a.choice.probe);
      if (leg.outcome == Outcome::kRefused) {  // the request's fault: the prefill's answer
        co_await relay_refusal(leg, ex, result);
        co_return result;
      }
      tried_prefill.push_back(pw.id());
      const Settled s = prefill_failure(leg, ex, attempt_no, result);
      last_error = s.error;
      last_message = s.message;
      if (s.next == Settled::Next::kRetry) continue;
      co_await answer_error(s, ex, result);
      co_return result;
    }

    // A new pair: the decode that failed, and the prefill that had not
    // answered by then (it may be the reason), each where its pool has another.
    if (a.kind == Attempt::Kind::kFailed) {
      if (a.choice.candidates > 1) tried_decode.push_back(dw.id());
      if (leg.outcome != Outcome::kOk && leg.choice.candidates > 1)
        tried_prefill.push_back(pw.id());
    }
    const Settled s = settle(a, ex, attempt_no, result);
    switch (s.next) {
      case Settled::Next::kReturn:
        co_return result;
      case Settled::Next::kRetry:
        last_error = s.error;
        last_message = "decode " + s.message;
        continue;
      case Settled::Next::kAnswerError:
        co_await answer_error(s, ex, result);
        co_return result;
    }
  }
}

awaitable<ProxyResult> Proxy::forward_vllm(ClientExchange& ex, RoutingScratch& scratch,
                                           UpstreamPool& pool) const {
  using Outcome = PrefillLeg::Outcome;
  ProxyResult result;
  const std::string_view body = ex.request.body();
  const std::optional<MemberSplice> splice = closing_member_splice(body);
  Result<std::string> prefill_body =
      splice ? vllm_prefill_body(body)
             : Result<std::string>(make_error(ErrorCode::kInvalidArgument, "not an object"));
  if (!prefill_body) {
    co_await answer_error(Settled{Settled::Next::kAnswerError, RouterErrc::kBadRequest,
                                  "--pd-mode vllm: the body must be a JSON object", ex.keep_alive},
                          ex, result);
    co_return result;
  }
  TriedWorkers tried_prefill, tried_decode;
  RouterErrc last_error = RouterErrc::kNoHealthyWorker;
  std::string last_message;
  for (int attempt_no = 0;; ++attempt_no) {
    std::optional<RouteChoice> prefill =
        co_await route(ex, scratch, engine_, tried_prefill, attempt_no, last_error, last_message,
                       "prefill", result);
    if (!prefill) co_return result;

    // Bypass: little left to compute on the best prefill worker.
    const uint64_t cached_bytes =
        uint64_t{prefill->decision.matched_blocks} * engine_.options().block_bytes;
    const uint64_t prompt_bytes = ex.prepared.parsed.canonical_bytes;
    const bool bypass = pd_->bypass_bytes() > 0 &&
                        prompt_bytes - std::min(prompt_bytes, cached_bytes) < pd_->bypass_bytes();

    PrefillLeg leg;
    leg.choice = std::move(*prefill);
    Worker& pw = leg.choice.worker();
    std::string members;
    if (bypass) {
      pw.breaker().on_abandoned(leg.choice.probe);
      if (metrics_) metrics_->pd_leg(DataPlaneMetrics::PdRole::kPrefill, PdOutcome::kBypassed);
    } else {
      leg.body = *prefill_body;
      leg.client = &ex.client;
      leg.watches = ex.watches;
      build_head(leg.head, ex, pw, prefill_body->size());
      co_await prefill_exchange(leg, pool);
      settle_prefill(leg, ex);
      switch (leg.outcome) {
        case Outcome::kOk:
          break;
        case Outcome::kCancelled:  // the client left
          result.status = 499;
          result.keep_alive = false;
          co_return result;
        case Outcome::kRefused:
          co_await relay_refusal(leg, ex, result);
          co_return result;
        case Outcome::kFailed: {
          tried_prefill.push_back(pw.id());
          const Settled s = prefill_failure(leg, ex, attempt_no, result);
          last_error = s.error;
          last_message = s.message;
          if (s.next == Settled::Next::kRetry) continue;
          co_await answer_error(s, ex, result);
          co_return result;
        }
      }
      // Without kv_transfer_params the decode worker prefills itself.
      if (auto params = kv_transfer_params_of(leg.answer)) {
        members = kv_transfer_params_member(*splice, *params);
      }
    }

    std::optional<RouteChoice> decode =
        co_await route(ex, scratch, pd_->decode(), tried_decode, attempt_no, last_error,
                       last_message, "decode", result);
    if (!decode) co_return result;
    Attempt a;
    a.choice = std::move(*decode);
    Worker& dw = a.choice.worker();
    a.tail_at = splice->offset;
    a.tail_members = members;
    a.feedback = false;
    build_head(ex.buffers.request_head, ex, dw, body.size() + members.size());
    const bool can_retry =
        attempt_no < options_.max_retries && (a.choice.candidates > 1 || leg.choice.candidates > 1);
    co_await attempt(a, ex, pool, can_retry);
    if (metrics_) metrics_->pd_leg(DataPlaneMetrics::PdRole::kDecode, decode_outcome(a, false));
    if (a.kind == Attempt::Kind::kFailed && a.choice.candidates > 1)
      tried_decode.push_back(dw.id());
    const Settled s = settle(a, ex, attempt_no, result);
    switch (s.next) {
      case Settled::Next::kReturn:
        co_return result;
      case Settled::Next::kRetry:
        last_error = s.error;
        last_message = "decode " + s.message;
        continue;
      case Settled::Next::kAnswerError:
        co_await answer_error(s, ex, result);
        co_return result;
    }
  }
}

}  // namespace radixmesh::router
