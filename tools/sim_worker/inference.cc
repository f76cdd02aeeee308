#include "tools/sim_worker/inference.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "tools/sim_worker/kv_fetch.h"
#include "tools/sim_worker/pd_plan.h"
#include "tools/sim_worker/peer_watch.h"
#include "tools/sim_worker/responses_api.h"
#include "tools/sim_worker/sim_responses.h"

namespace radixmesh::tools::sim {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

Clock::duration micros(double us) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::micro>(us));
}

// Sleeps until `when` unless it has passed; false if the client left.
asio::awaitable<bool> sleep_until(Clock::time_point when, asio::steady_timer& timer, Stream& s,
                                  bool& watch) {
  if (when <= Clock::now()) co_return true;
  timer.expires_at(when);
  co_return co_await wait_watching_peer(timer, s.socket(), watch) == WaitResult::kDone;
}

const char* id_prefix(Endpoint ep) {
  switch (ep) {
    case Endpoint::kChat:
      return "chatcmpl-";
    case Endpoint::kCompletions:
      return "cmpl-";
    case Endpoint::kResponses:
      return "resp_";
    default:
      return "gen-";
  }
}

std::string sse_data(const std::string& payload) {
  std::string ev;
  ev.reserve(payload.size() + 8);
  ev += "data: ";
  ev += payload;
  ev += "\n\n";
  return ev;
}

// Writes whole SSE events as one HTTP chunk (or raw bytes for an HTTP/1.0
// client, whose stream is delimited by closing the connection); false on a
// write error.
asio::awaitable<bool> write_chunk(Stream& s, const std::string& wire, bool chunked) {
  s.expires_after(kWriteTimeout);
  boost::system::error_code wec;
  if (chunked) {
    auto [ec, n] = co_await asio::async_write(s, http::make_chunk(asio::buffer(wire)),
                                              asio::as_tuple(asio::use_awaitable));
    wec = ec;
  } else {
    auto [ec10, n10] =
        co_await asio::async_write(s, asio::buffer(wire), asio::as_tuple(asio::use_awaitable));
    wec = ec10;
  }
  s.expires_never();
  co_return !wec;
}

// Waits for a batch slot; returns false (with the reason counted) if the
// request must not proceed: 429 already sent, or client gone.
struct AdmitOutcome {
  bool admitted = false;
  bool keep_alive = false;
};

asio::awaitable<AdmitOutcome> admit(Stream& s, const Request& req, SimState& st, bool& watch) {
  auto w = std::make_shared<Admission::Waiter>(s.get_executor());
  switch (st.admission.try_acquire(w)) {
    case Admission::Try::kGranted:
      co_return AdmitOutcome{true, true};
    case Admission::Try::kRejected: {
      bool keep = co_await send_error(s, req, http::status::too_many_requests,
                                      "simulated worker queue is full", "rate_limit_error",
                                      "rate_limit_exceeded", st);
      co_return AdmitOutcome{false, keep};
    }
    case Admission::Try::kQueued:
      break;
  }
  while (!st.admission.granted(w)) {
    if (co_await wait_watching_peer(w->timer, s.socket(), watch) == WaitResult::kPeerClosed) {
      st.admission.abandon(w);
      st.counters.cancelled.fetch_add(1, std::memory_order_relaxed);
      co_return AdmitOutcome{false, false};
    }
  }
  co_return AdmitOutcome{true, true};
}

}  // namespace

asio::awaitable<bool> serve_inference(Stream& s, const Request& req, Endpoint ep, SimState& st) {
  const SimOptions& o = st.opts;
  const uint64_t n = st.inference_started.fetch_add(1, std::memory_order_relaxed) + 1;
  if (o.exit_after > 0 && n > o.exit_after) {
    std::fprintf(stderr, "radixmesh-sim-worker: --exit-after %llu reached, exiting\n",
                 static_cast<unsigned long long>(o.exit_after));
    std::fflush(stderr);
    std::fflush(stdout);
    ::_exit(3);
  }
  st.counters.requests[static_cast<int>(ep)].fetch_add(1, std::memory_order_relaxed);
  PeakGauge::Scope active(st.counters.active);

  thread_local simdjson::dom::parser parser;
  auto parsed = parse_sim_request(ep, req.body(), parser);
  if (!parsed) {
    co_return co_await send_error(s, req, http::status::bad_request, parsed.error().message,
                                  "invalid_request_error", "bad_request", st);
  }
  SimRequest& r = parsed.value();
  if (r.model.empty()) r.model = o.models.front();
  if (!st.serves(r.model)) {
    co_return co_await send_error(s, req, http::status::not_found,
                                  "The model `" + r.model + "` does not exist.",
                                  "invalid_request_error", "model_not_found", st);
  }
  if (o.error_rate > 0 &&
      static_cast<double>(mix(o.seed ^ mix(n)) >> 11) * 0x1.0p-53 < o.error_rate) {
    co_return co_await send_error(s, req, http::status::internal_server_error,
                                  "simulated worker failure (--error-rate)", "server_error",
                                  "internal_error", st);
  }
  if (ep == Endpoint::kEmbeddings) {
    st.counters.prompt_tokens.fetch_add(r.prompt_tokens, std::memory_order_relaxed);
    co_return co_await send_response(s, req, http::status::ok, "application/json",
                                     embeddings_body(r.model, r.embedding_inputs, o.embedding_dim,
                                                     r.prompt_tokens, o.seed, r.embedding_base64),
                                     st);
  }

  const PdPlan pd = plan_pd(o, r);
  if (!pd.error.empty()) {
    co_return co_await send_error(s, req, http::status::bad_request, pd.error,
                                  "invalid_request_error", "bad_request", st);
  }
  auto cancelled = [&st] {
    st.counters.cancelled.fetch_add(1, std::memory_order_relaxed);
    return false;
  };

  // Time to first token counts from here: [remote KV wait] + queue wait +
  // uncached prefill.
  bool watch = true;
  std::optional<KvRoom> remote;
  if (pd.step == PdStep::kDecodeRemote) {
    KvFetch got = co_await fetch_remote_kv(pd, s, watch, st);
    if (got.client_gone) co_return cancelled();
    if (!got.room) {
      co_return co_await send_error(s, req, static_cast<http::status>(got.status), got.message,
                                    "server_error", got.code, st);
    }
    if (got.room->model != r.model || got.room->prompt_tokens != r.prompt_tokens) {
      co_return co_await send_error(s, req, http::status::bad_request,
                                    "the prefill worker's KV (model " + got.room->model + ", " +
                                        std::to_string(got.room->prompt_tokens) +
                                        " prompt tokens) is not this request's (" + r.model + ", " +
                                        std::to_string(r.prompt_tokens) + ")",
                                    "invalid_request_error", "kv_mismatch", st);
    }
    remote = std::move(got.room);
  }
  AdmitOutcome adm = co_await admit(s, req, st, watch);
  if (!adm.admitted) co_return adm.keep_alive;
  SlotGuard slot(st.admission);

  Usage u;
  u.prompt_tokens = r.prompt_tokens;
  if (remote) {
    // The whole prompt's KV came from the prefill worker: no prefill here.
    u.cached_tokens = r.prompt_tokens;
    st.counters.pd_remote_tokens.fetch_add(u.cached_tokens, std::memory_order_relaxed);
  } else {
    std::string ns = r.model;
    ns += r.token_ids ? "\x01ids" : "\x01text";
    const auto hashes = chain_block_hashes(ns, r.prompt, o.block_bytes());
    const uint64_t matched = st.kv.lookup_and_insert(hashes);
    u.cached_tokens = std::min<uint64_t>(r.prompt_tokens, matched * o.block_tokens);
    st.counters.cached_tokens.fetch_add(u.cached_tokens, std::memory_order_relaxed);
  }
  // A prefill worker produces the first token only; decode does the rest.
  u.completion_tokens = pd.step == PdStep::kPrefill
                            ? 1
                            : std::clamp<uint64_t>(r.max_tokens.value_or(o.max_tokens_default), 1,
                                                   o.max_tokens_limit);
  st.counters.prompt_tokens.fetch_add(u.prompt_tokens, std::memory_order_relaxed);

  asio::steady_timer timer(s.get_executor());
  Clock::time_point t =
      Clock::now() +
      micros(static_cast<double>(u.prompt_tokens - u.cached_tokens) * o.prefill_us_per_token);
  if (!co_await sleep_until(t, timer, s, watch)) co_return cancelled();

  // Prefill done: the KV is ready for the decode worker.
  std::string kv_params;
  if (pd.step == PdStep::kPrefill) {
    std::string key = pd.key;
    if (o.pd_protocol == PdProtocol::kVllm) {
      const uint64_t blocks =
          std::max<uint64_t>(1, (u.prompt_tokens + o.block_tokens - 1) / o.block_tokens);
      const uint64_t first = st.next_block.fetch_add(blocks, std::memory_order_relaxed);
      key = vllm_room_key(first, blocks);
      kv_params = vllm_kv_transfer_params(o, first, blocks);
    }
    st.rooms.put(key, KvRoom{r.model, u.prompt_tokens, u.cached_tokens}, Clock::now());
    st.counters.pd_registered.fetch_add(1, std::memory_order_relaxed);
  }

  ResponseMeta meta;
  meta.endpoint = ep;
  meta.id = id_prefix(ep) + o.id + "-" + std::to_string(n);
  meta.model = r.model;
  meta.worker_id = o.id;
  meta.created = static_cast<int64_t>(std::time(nullptr));
  const uint64_t tpc = o.tokens_per_chunk;
  const uint64_t chunks = (u.completion_tokens + tpc - 1) / tpc;
  const auto decode = micros(o.decode_us_per_token);
  const auto stall = std::chrono::milliseconds(o.stall_ms);
  const bool stalls = o.stall_after_chunks > 0 && o.stall_after_chunks < chunks;

  if (!r.stream) {
    // The first token comes with prefill; each further one costs a decode step.
    t += decode * static_cast<int64_t>(u.completion_tokens - 1);
    if (stalls) t += stall;
    if (!co_await sleep_until(t, timer, s, watch)) co_return cancelled();
    std::string text;
    text.reserve(u.completion_tokens * 4);
    for (uint64_t i = 0; i < u.completion_tokens; ++i) text += token_text(o.seed, n, i);
    st.counters.completion_tokens.fetch_add(u.completion_tokens, std::memory_order_relaxed);
    // A named local, not a conditional expression: g++ 12 destroys a
    // conditional's temporary twice when it initialises a coroutine parameter.
    std::string body = ep == Endpoint::kResponses
                           ? responses_object(meta, text, u, true)
                           : completion_body(meta, text, u, "length", kv_params);
    co_return co_await send_response(s, req, http::status::ok, "application/json", std::move(body),
                                     st);
  }

  st.counters.streams.fetch_add(1, std::memory_order_relaxed);
  http::response<http::empty_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "radixmesh-sim-worker");
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-cache");
  res.set("x-worker-id", o.id);
  // HTTP/1.1: chunked, keep-alive as asked. HTTP/1.0 (e.g. nginx's default
  // upstream protocol) has no chunked encoding: the stream ends with the
  // connection.
  const bool chunked = req.version() >= 11;
  res.keep_alive(chunked && req.keep_alive());
  res.chunked(chunked);
  st.counters.count_status(200);
  http::response_serializer<http::empty_body> sr{res};
  s.expires_after(kWriteTimeout);
  if (auto [ec, nw] = co_await http::async_write_header(s, sr, asio::as_tuple(asio::use_awaitable));
      ec)
    co_return cancelled();

  const bool responses = ep == Endpoint::kResponses;
  std::string cumulative;  // /generate streams the whole text so far; responses end with it
  uint64_t emitted = 0;
  uint64_t seq = 0;  // responses: event sequence number
  for (uint64_t k = 0; k < chunks; ++k) {
    const uint64_t take = std::min(tpc, u.completion_tokens - emitted);
    if (k > 0) {
      t += decode * static_cast<int64_t>(take);
      if (stalls && k == o.stall_after_chunks) t += stall;
      if (!co_await sleep_until(t, timer, s, watch)) co_return cancelled();
    }
    std::string text;
    for (uint64_t i = 0; i < take; ++i) text += token_text(o.seed, n, emitted + i);
    emitted += take;
    if (ep == Endpoint::kGenerate || responses) cumulative += text;
    const bool last = k + 1 == chunks;
    Usage so_far = u;
    so_far.completion_tokens = emitted;
    std::string wire;
    if (responses) {
      if (k == 0) wire = responses_created_event(meta, seq++);
      wire += responses_delta_event(meta, seq++, text);
    } else {
      wire =
          sse_data(stream_chunk(meta, text, cumulative, k == 0, last ? "length" : nullptr, so_far));
    }
    if (!co_await write_chunk(s, wire, chunked)) co_return cancelled();
    st.counters.completion_tokens.fetch_add(take, std::memory_order_relaxed);
  }
  // The end: OpenAI's usage chunk and [DONE]; the Responses API's completed event.
  std::string tail;
  if (responses) {
    tail = responses_completed_event(meta, seq++, cumulative, u);
  } else {
    if (r.include_usage) {
      if (std::string usage = usage_chunk(meta, u); !usage.empty()) tail = sse_data(usage);
    }
    tail += "data: [DONE]\n\n";
  }
  if (!co_await write_chunk(s, tail, chunked)) co_return cancelled();
  if (!chunked) co_return false;
  auto [ec2, n2] =
      co_await asio::async_write(s, http::make_chunk_last(), asio::as_tuple(asio::use_awaitable));
  s.expires_never();
  if (ec2) co_return false;
  co_return res.keep_alive();
}

}  // namespace radixmesh::tools::sim
