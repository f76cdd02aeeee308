// Request body reading: the bytes after a request header, into the
// request's string, with memory that follows the bytes received rather than
// the length the client declared.
//
// A header alone ("Content-Length: 8388000" and one byte of body) must not
// commit the declared size. The body's storage starts at what is needed for
// the bytes already buffered (at least 16 KiB) and grows geometrically as
// bytes arrive, each step at most 1 MiB, never past the declared length
// (Content-Length) or max_body_bytes (chunked; Beast's parser enforces that
// limit against each chunk size). Each socket read fills at most 64 KiB of
// the storage, so the pages touched (committed) stay within 64 KiB of the
// bytes received. Every growth is reserved first in the process-wide
// BodyBudget (router/body_budget.h); a refused reservation ends the read
// with kBudget.
//
// The storage always keeps kBodyPadding spare bytes after the body so the
// JSON parser (simdjson) can parse it in place.
//
// Chunked bodies go through Beast's parser, fed by hand from the connection
// buffer so that a chunk-size or trailer line ending in a bare LF (which
// Beast would wait on for ever, looking for CRLF) is refused at once.
//
// Deadlines are the caller's: it arms them on the stream before the call,
// and a read that fails (timeout, cancel, EOF) ends with kRead and the error.
//
// Threads: runs on the connection's io thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "router/body_budget.h"
#include "router/byte_stream.h"
#include "router/net.h"

namespace radixmesh::router {

struct BodyResult {
  // kTimeout is the caller's: a kRead cut by its deadline.
  enum class Kind { kOk, kRead, kTooLarge, kBudget, kMalformed, kTimeout };
  Kind kind = Kind::kOk;
  error_code ec;          // kRead: the read error; kMalformed: the parser's error, if any
  const char* what = "";  // kMalformed: what was wrong
};

// Storage growth (exposed for tests): grows `body`'s capacity to hold at
// least `size` bytes plus `padding`, at least 16 KiB and at most 1 MiB more
// than now (or `size` + `padding` if more), never past `limit` + `padding`.
// Reserves the new capacity in `reservation` before allocating. Returns
// false (body unchanged) when the budget refuses.
bool grow_body_storage(std::string& body, size_t size, size_t limit, size_t padding,
                       BodyReservation& reservation);

// The bytes a string's storage holds on the heap (0 for the in-object
// small-string buffer): what a reservation for it must cover.
size_t storage_bytes(const std::string& s);

// Reads a Content-Length body of `length` bytes into `body` (what it held
// is overwritten; its capacity is kept, and its size too until the end, so
// that only bytes past the longest earlier body are zero-filled): what
// `buffer` already holds, then straight from the socket into the string.
awaitable<BodyResult> read_sized_body(ByteStream& stream, beast::flat_buffer& buffer,
                                      uint64_t length, std::string& body, size_t padding,
                                      BodyReservation& reservation);

// Reads a chunked body through `parser` (its header already read; its body
// string is the storage) until the parser is done.
awaitable<BodyResult> read_chunked_body(ByteStream& stream, beast::flat_buffer& buffer,
                                        http::request_parser<http::string_body>& parser,
                                        size_t max_body_bytes, size_t padding,
                                        BodyReservation& reservation);

}  // namespace radixmesh::router
