// API key file parsing, the key store's check and reload, token buckets and
// the fleet share of a rate limit (router/api_keys.h, router/api_key_store.h,
// router/rate_limiter.h). No sockets.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "router/api_key_store.h"
#include "router/api_keys.h"
#include "router/rate_limiter.h"

using namespace radixmesh;
using namespace radixmesh::router;

namespace {

std::string parse_error(std::string_view text) {
  auto r = ApiKeySet::parse(text);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

struct TempFile {
  TempFile() {
    path = (std::filesystem::temp_directory_path() /
            ("radixmesh-keys-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
               .string();
  }
  ~TempFile() { std::remove(path.c_str()); }
  // Written to a new file then renamed over the old one (a new inode, as a
  // Kubernetes Secret update does).
  void write(const std::string& text) const {
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp, std::ios::binary) << text;
    std::filesystem::rename(tmp, path);
  }
  std::string path;
  static inline int counter = 0;
};

}  // namespace

TEST_CASE("key file: keys, attributes, comments and blank lines") {
  auto r = ApiKeySet::parse(
      "# tenants\n"
      "\n"
      "sk-team-a-0123456789  name=team-a rps=20 burst=40\n"
      "   sk-batch-abcdefghij\tname=batch rps=0   # unlimited\n"
      "sk-plain-key-xyz\r\n");
  REQUIRE(r.ok());
  const ApiKeySet& set = r.value();
  CHECK(set.size() == 3);
  const ApiKeyEntry* a = set.find("sk-team-a-0123456789");
  REQUIRE(a);
  CHECK(a->tenant == "team-a");
  CHECK(*a->rps == 20);
  CHECK(*a->burst == 40);
  CHECK(a->line == 3);
  const ApiKeyEntry* b = set.find("sk-batch-abcdefghij");
  REQUIRE(b);
  CHECK(b->tenant == "batch");
  CHECK(*b->rps == 0);
  CHECK_FALSE(b->burst.has_value());
  const ApiKeyEntry* c = set.find("sk-plain-key-xyz");  // "\r" is not part of the key
  REQUIRE(c);
  CHECK(c->tenant == "default");
  CHECK_FALSE(c->rps.has_value());

  CHECK(set.find("sk-team-a-012345678") == nullptr);    // a prefix is not the key
  CHECK(set.find("sk-team-a-0123456789x") == nullptr);  // nor an extension
  CHECK(set.find("") == nullptr);
  CHECK(ApiKeySet::parse("").value().size() == 0);
  CHECK(ApiKeySet::parse("# only comments\n\n").value().size() == 0);
}

TEST_CASE("key file: malformed lines are rejected with their line number, never the key") {
  CHECK(parse_error("good-key-0001\nshort\n") == "line 2: a key must have 8 to 256 characters");
  CHECK(parse_error("good-key-0001 name=a rps=x\n") == "line 1: rps= must be a number >= 0");
  CHECK(parse_error("good-key-0001 rps=-1\n") == "line 1: rps= must be a number >= 0");
  CHECK(parse_error("good-key-0001 rps=1e3\n") == "line 1: rps= must be a number >= 0");
  CHECK(parse_error("good-key-0001 burst=0.5\n") == "line 1: burst= must be a number >= 1");
  CHECK(parse_error("good-key-0001 rps=1 rps=2\n") == "line 1: rps= given twice");
  CHECK(parse_error("good-key-0001 name=a/b\n") == "line 1: name= allows [A-Za-z0-9._-]");
  CHECK(parse_error("good-key-0001 name=\n") == "line 1: name= must have 1 to 64 characters");
  CHECK(parse_error("good-key-0001 tier=gold\n") ==
        "line 1: unknown attribute 'tier' (name=, rps=, burst=)");
  CHECK(parse_error("good-key-0001 gold\n") ==
        "line 1: expected name=, rps= or burst= after the key");
  CHECK(parse_error("name=team-a rps=5\n") ==
        "line 1: a line starts with the key, then its attributes");
  CHECK(parse_error("\n\ngood-key-0001\ngood-key-0001 name=b\n") ==
        "line 4: the same key is already on line 3");
  CHECK(parse_error("bad-key-\x01-01\n") == "line 1: a key must be printable ASCII");
  const std::string big(ApiKeySet::kMaxFileBytes + 1, '#');
  CHECK(ApiKeySet::parse(big).error().code == ErrorCode::kTooLarge);
  // The secret never appears in a message.
  CHECK(parse_error("sk-secret-value-123 rps=oops\n").find("sk-secret") == std::string::npos);
}

TEST_CASE("bearer token: scheme case-insensitive, blanks trimmed, other shapes rejected") {
  CHECK(bearer_token("Bearer abc") == "abc");
  CHECK(bearer_token("bearer   abc  ") == "abc");
  CHECK(bearer_token("BEARER abc") == "abc");
  CHECK(bearer_token("Basic abc").empty());
  CHECK(bearer_token("Bearer").empty());
  CHECK(bearer_token("Bearer ").empty());
  CHECK(bearer_token("Bearerabc").empty());
  CHECK(bearer_token("").empty());
}

TEST_CASE("token bucket: a burst, then one token per 1/rate, with the wait to the next token") {
  TokenBucket b;
  const int64_t t0 = 1000000;
  for (int i = 0; i < 4; ++i) CHECK(b.take(t0, 2.0, 4.0).allowed);  // starts full
  const auto denied = b.take(t0, 2.0, 4.0);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after_ms == 500);  // one token at 2/s
  CHECK_FALSE(b.take(t0 + 499, 2.0, 4.0).allowed);
  CHECK(b.take(t0 + 500, 2.0, 4.0).allowed);
  CHECK_FALSE(b.take(t0 + 500, 2.0, 4.0).allowed);
  // Idle for long: refills to the burst, not beyond.
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += b.take(t0 + 100000, 2.0, 4.0).allowed ? 1 : 0;
  CHECK(admitted == 4);
  // A smaller burst (the mesh grew) caps the tokens at once.
  TokenBucket c;
  CHECK(c.take(t0, 1.0, 10.0).allowed);
  admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += c.take(t0, 1.0, 3.0).allowed ? 1 : 0;
  CHECK(admitted == 3);
}

TEST_CASE("fleet share: rps and burst divided by live members, burst at least 1") {
  CHECK(share_of(0, 10, 3).rate == 0);  // no limit
  const RateShare one = share_of(30, 60, 1);
  CHECK(one.rate == 30);
  CHECK(one.burst == 60);
  const RateShare three = share_of(30, 60, 3);
  CHECK(three.rate == 10);
  CHECK(three.burst == 20);
  CHECK(share_of(30, 0, 3).burst == 10);  // burst 0: one second of rps
  CHECK(share_of(1, 1, 4).burst == 1);    // never below one request
  CHECK(share_of(5, 5, 0).rate == 5);     // 0 members reads as 1
  CHECK(retry_after_seconds(1) == 1);
  CHECK(retry_after_seconds(1000) == 1);
  CHECK(retry_after_seconds(1001) == 2);
}

TEST_CASE("fleet size: read at most once a second") {
  size_t calls = 0, members = 3;
  FleetSize f([&] {
    ++calls;
    return members;
  });
  CHECK(f.get(10000) == 3);
  members = 5;
  CHECK(f.get(10500) == 3);  // cached
  CHECK(f.get(11000) == 5);
  CHECK(calls == 2);
  FleetSize none({});
  CHECK(none.get(0) == 1);
}

TEST_CASE("key store: 401 missing and invalid, 429 with Retry-After, rps=0 unlimited") {
  TempFile f;
  f.write("sk-limited-000001 name=slow rps=1 burst=2\nsk-free-000000001 rps=0\n");
  ApiKeyStore store({f.path, {}}, {});
  const int64_t t = 50000;

  Access missing = store.check("", t);
  CHECK_FALSE(missing.ok);
  CHECK(missing.error == RouterErrc::kUnauthorized);
  CHECK(missing.reason == "missing");
  Access basic = store.check("Basic c2stbGltaXRlZA==", t);
  CHECK(basic.reason == "missing");
  Access wrong = store.check("Bearer sk-limited-000002", t);
  CHECK_FALSE(wrong.ok);
  CHECK(wrong.reason == "invalid");
  CHECK(wrong.message.find("sk-limited") == std::string::npos);

  CHECK(store.check("Bearer sk-limited-000001", t).ok);
  CHECK(store.check("Bearer sk-limited-000001", t).ok);
  Access limited = store.check("Bearer sk-limited-000001", t);
  CHECK_FALSE(limited.ok);
  CHECK(limited.error == RouterErrc::kRateLimited);
  CHECK(limited.retry_after_s == 1);
  REQUIRE(limited.entry);
  CHECK(limited.entry->tenant == "slow");
  CHECK(limited.message.find("slow") != std::string::npos);
  CHECK(store.check("Bearer sk-limited-000001", t + 1000).ok);  // refilled

  for (int i = 0; i < 100; ++i) CHECK(store.check("Bearer sk-free-000000001", t).ok);
}

TEST_CASE("key store: defaults apply to keys without rps=, and are divided by the fleet") {
  TempFile f;
  f.write("sk-default-00001\n");
  size_t members = 2;
  ApiKeyStore store({f.path, {4, 4}}, [&] { return members; });  // 4 rps, burst 4 fleet-wide
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += store.check("Bearer sk-default-00001", 1000).ok;
  CHECK(admitted == 2);  // half the burst on each of two routers
}

TEST_CASE("key store: reload picks up new keys, keeps buckets, and a bad file keeps the old set") {
  TempFile f;
  f.write("sk-first-0000001 rps=1 burst=1\n");
  ApiKeyStore store({f.path, {}}, {});
  std::string why;
  CHECK(store.poll(&why) == ApiKeyStore::Reload::kUnchanged);
  CHECK(store.check("Bearer sk-first-0000001", 0).ok);
  CHECK_FALSE(store.check("Bearer sk-first-0000001", 0).ok);  // bucket empty
  CHECK_FALSE(store.check("Bearer sk-second-000001", 0).ok);

  f.write("sk-first-0000001 rps=1 burst=1\nsk-second-000001\n");
  CHECK(store.poll(&why) == ApiKeyStore::Reload::kReloaded);
  CHECK(why == "2 keys");
  CHECK(store.check("Bearer sk-second-000001", 0).ok);
  CHECK_FALSE(store.check("Bearer sk-first-0000001", 0).ok);  // its bucket survived

  f.write("sk-third-0000001 rps=lots\n");
  CHECK(store.poll(&why) == ApiKeyStore::Reload::kFailed);
  CHECK(why.find("line 1: rps=") == 0);
  CHECK(store.reloads_failed() == 1);
  CHECK(store.check("Bearer sk-second-000001", 0).ok);  // old set in force
  CHECK_FALSE(store.check("Bearer sk-third-0000001", 0).ok);
  CHECK(store.poll(&why) == ApiKeyStore::Reload::kUnchanged);  // not re-parsed until it changes

  f.write("sk-third-0000001\n");
  CHECK(store.poll(&why) == ApiKeyStore::Reload::kReloaded);
  CHECK(store.check("Bearer sk-third-0000001", 0).ok);
  CHECK_FALSE(store.check("Bearer sk-second-000001", 0).ok);  // removed keys stop working
  CHECK(store.reloads_ok() == 2);
}

TEST_CASE("key store: a bad file at start-up is an error") {
  TempFile f;
  f.write("too-short\nx\n");
  CHECK_THROWS_WITH_AS(ApiKeyStore({f.path, {}}, {}),
                       doctest::Contains("line 2: a key must have"), std::runtime_error);
  CHECK_THROWS_AS(ApiKeyStore({f.path + ".absent", {}}, {}), std::runtime_error);
}
