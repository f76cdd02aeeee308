#include "router/body_reader.h"

#include <algorithm>
#include <cstring>

namespace radixmesh::router {
namespace {

constexpr size_t kMinStep = 16 * 1024;
constexpr size_t kMaxStep = 1 << 20;
constexpr size_t kMaxFill = 64 * 1024;  // storage filled per socket read
constexpr size_t kSmallString = 15;     // libstdc++'s in-object capacity

// A '\n' not preceded by '\r' in bytes Beast left unconsumed: those are
// always framing (chunk-size line, chunk end, trailer), never chunk data.
bool has_bare_lf(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) return true;
  }
  return false;
}

BodyResult result(BodyResult::Kind kind, error_code ec = {}, const char* what = "") {
  BodyResult r;
  r.kind = kind;
  r.ec = ec;
  r.what = what;
  return r;
}

}  // namespace

size_t storage_bytes(const std::string& s) {
  return s.capacity() > kSmallString ? s.capacity() + 1 : 0;
}

bool grow_body_storage(std::string& body, size_t size, size_t limit, size_t padding,
                       BodyReservation& reservation) {
  const size_t need = size + padding;
  const size_t cap = body.capacity();
  if (cap >= need) return true;
  size_t target = cap + std::clamp(cap, kMinStep, kMaxStep);
  target = std::min(target, limit + padding);
  target = std::max(target, need);
  // reserve() on a fresh string allocates exactly `target` (reserve on a
  // grown one may double instead), then the bytes move over.
  if (!reservation.set(target + 1)) return false;
  std::string grown;
  grown.reserve(target);
  grown.append(body);
  body.swap(grown);
  std::string().swap(grown);
  reservation.set(storage_bytes(body));  // what the allocator gave (>= target)
  return true;
}

awaitable<BodyResult> read_sized_body(ByteStream& stream, beast::flat_buffer& buffer,
                                      uint64_t length, std::string& body, size_t padding,
                                      BodyReservation& reservation) {
  using Kind = BodyResult::Kind;
  // The connection's storage keeps the size of its last body: bytes below
  // body.size() are overwritten as they are, and resize() zero-fills only
  // where this body is longer than any before it on the connection (a
  // keep-alive client sending bodies of similar sizes pays it once).
  const size_t total = static_cast<size_t>(length);
  const size_t buffered = std::min<size_t>(buffer.size(), total);
  if (!grow_body_storage(body, buffered, total, padding, reservation))
    co_return result(Kind::kBudget);
  if (body.size() < buffered) body.resize(buffered);
  std::memcpy(body.data(), buffer.data().data(), buffered);
  buffer.consume(buffered);
  size_t have = buffered;
  while (have < total) {
    if (!grow_body_storage(body, have + 1, total, padding, reservation)) {
      body.resize(have);
      co_return result(Kind::kBudget);
    }
    const size_t room = std::min({body.capacity() - padding - have, total - have, kMaxFill});
    if (body.size() < have + room) body.resize(have + room);  // zero-fills new ground only
    auto [ec, n] =
        co_await stream.async_read_some(net::buffer(body.data() + have, room), use_tuple);
    have += n;
    if (ec) {
      body.resize(have);
      co_return result(Kind::kRead, ec);
    }
  }
  body.resize(total);  // shorter than before: no fill
  co_return BodyResult{};
}

awaitable<BodyResult> read_chunked_body(ByteStream& stream, beast::flat_buffer& buffer,
                                        http::request_parser<http::string_body>& parser,
                                        size_t max_body_bytes, size_t padding,
                                        BodyReservation& reservation) {
  using Kind = BodyResult::Kind;
  std::string& body = parser.get().body();
  body.clear();  // the connection's storage: keeps its capacity, not the last body
  parser.eager(true);
  while (!parser.is_done()) {
    if (buffer.size() > 0) {
      // Beast appends at most the bytes it is given to the body: make room
      // for all of them first, so it never grows the storage itself.
      const size_t most = body.size() + buffer.size();
      if (!grow_body_storage(body, std::min(most, max_body_bytes), max_body_bytes, padding,
                             reservation)) {
        co_return result(Kind::kBudget);
      }
      error_code ec;
      const size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::body_limit) co_return result(Kind::kTooLarge, ec);
      if (ec && ec != http::error::need_more) {
        co_return result(Kind::kMalformed, ec, "malformed chunked body");
      }
      if (parser.is_done()) break;
      if (ec == http::error::need_more || used == 0) {
        const auto left = buffer.data();
        if (has_bare_lf(static_cast<const char*>(left.data()), left.size())) {
          co_return result(Kind::kMalformed, {}, "chunk line ends in a bare LF (CRLF required)");
        }
      } else {
        continue;  // progress: parse on before reading
      }
    }
    const size_t space = std::min(buffer.max_size() - buffer.size(), kMaxFill);
    if (space == 0) co_return result(Kind::kMalformed, {}, "chunk line too long");
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(space), use_tuple);
    buffer.commit(n);
    if (ec) co_return result(Kind::kRead, ec);
  }
  co_return BodyResult{};
}

}  // namespace radixmesh::router
