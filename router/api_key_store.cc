#include "router/api_key_store.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace radixmesh::router {

ApiKeyStore::ApiKeyStore(ApiKeyStoreOptions options, std::function<size_t()> members_fn)
    : options_(std::move(options)), fleet_(std::move(members_fn)) {
  Stamp stamp;
  if (!stat_file(options_.path, &stamp)) {
    throw std::runtime_error("--api-keys-file " + options_.path + ": cannot read");
  }
  const Status s = load(stamp);
  if (!s.ok()) throw std::runtime_error("--api-keys-file " + options_.path + ": " + s.error().message);
}

bool ApiKeyStore::stat_file(const std::string& path, Stamp* out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  out->ino = static_cast<uint64_t>(st.st_ino);
  out->size = static_cast<uint64_t>(st.st_size);
  out->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return true;
}

Status ApiKeyStore::load(const Stamp& stamp) {
  if (stamp.size > ApiKeySet::kMaxFileBytes) {
    return make_error(ErrorCode::kTooLarge, "file is larger than " +
                                                std::to_string(ApiKeySet::kMaxFileBytes) + " bytes");
  }
  std::ifstream in(options_.path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open");
  std::string text;
  text.resize(ApiKeySet::kMaxFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  auto parsed = ApiKeySet::parse(text);
  if (!parsed.ok()) return parsed.error();
  auto set = std::make_shared<ApiKeySet>(std::move(parsed).value());
  set->carry_buckets_from(current_.load().get());
  current_.store(std::move(set));
  stamp_ = stamp;
  return Ok{};
}

ApiKeyStore::Reload ApiKeyStore::poll(std::string* why) {
  Stamp stamp;
  if (!stat_file(options_.path, &stamp)) {
    // A Secret update replaces the file in two steps; a missing file is
    // usually the middle of one. Keep the old set, report once per change.
    if (stamp_ == Stamp{}) return Reload::kUnchanged;
    stamp_ = Stamp{};
    ++reloads_failed_;
    if (why) *why = "cannot read the file; keeping the previous keys";
    return Reload::kFailed;
  }
  if (stamp == stamp_) return Reload::kUnchanged;
  const Status s = load(stamp);
  if (!s.ok()) {
    stamp_ = stamp;  // not re-parsed until it changes again
    ++reloads_failed_;
    if (why) *why = s.error().message + "; keeping the previous keys";
    return Reload::kFailed;
  }
  ++reloads_ok_;
  if (why) *why = std::to_string(current_.load()->size()) + " keys";
  return Reload::kReloaded;
}

Access ApiKeyStore::check(std::string_view authorization, int64_t now_ms) const {
  Access a;
  const std::string_view key = bearer_token(authorization);
  if (key.empty()) {
    a.ok = false;
    a.reason = "missing";
    a.message =
        "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.";
    return a;
  }
  a.set = current_.load();
  a.entry = a.set->find(key);
  if (!a.entry) {
    a.ok = false;
    a.reason = "invalid";
    a.message = "Incorrect API key provided.";
    return a;
  }
  const double rps = a.entry->rps.value_or(options_.defaults.rps);
  const double burst = a.entry->burst.value_or(options_.defaults.burst);
  if (rps <= 0 || !a.entry->bucket) return a;
  const size_t members = fleet_.get(now_ms);
  const RateShare share = share_of(rps, burst, members);
  const TokenBucket::Verdict v = a.entry->bucket->take(now_ms, share.rate, share.burst);
  if (v.allowed) return a;
  a.ok = false;
  a.error = RouterErrc::kRateLimited;
  a.reason = "rate_limited";
  a.retry_after_s = retry_after_seconds(v.retry_after_ms);
  std::ostringstream m;
  m << "Rate limit reached for tenant '" << a.entry->tenant << "': " << rps
    << " requests/s across the fleet";
  if (members > 1) m << " (" << share.rate << "/s on each of " << members << " routers)";
  m << ". Retry after " << a.retry_after_s << " s.";
  a.message = m.str();
  return a;
}

}  // namespace radixmesh::router
