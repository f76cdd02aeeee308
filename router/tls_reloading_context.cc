#include "router/tls_reloading_context.h"

#include <sys/stat.h>

namespace radixmesh::tls {

FileStamp stamp_file(const std::string& path) {
  struct stat st {};
  FileStamp s;
  if (::stat(path.c_str(), &st) != 0) return s;
  s.exists = true;
  s.device = static_cast<uint64_t>(st.st_dev);
  s.inode = static_cast<uint64_t>(st.st_ino);
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return s;
}

Result<std::unique_ptr<ReloadingContext>> ReloadingContext::create(Options options) {
  std::unique_ptr<ReloadingContext> r(new ReloadingContext(std::move(options)));
  std::string why;
  if (r->poll(true, &why) != Outcome::kReloaded) {
    return make_error(ErrorCode::kInvalidArgument, why);
  }
  return r;
}

std::shared_ptr<ssl::context> ReloadingContext::current() const {
  std::lock_guard lock(mu_);
  return context_;
}

uint64_t ReloadingContext::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

ReloadingContext::Outcome ReloadingContext::poll(bool force, std::string* why) {
  // Stamps first, then the contents: a change while loading shows up as a
  // new stamp on the next poll and is loaded then.
  const FileStamp cert = stamp_file(options_.cert_file);
  const FileStamp key = stamp_file(options_.key_file);
  if (!force && cert == cert_stamp_ && key == key_stamp_) return Outcome::kUnchanged;
  cert_stamp_ = cert;
  key_stamp_ = key;
  auto built = make_server_context(options_.cert_file, options_.key_file, options_.alpn);
  if (!built) {
    if (why) *why = built.error().message + " (the previous certificate stays in use)";
    return Outcome::kFailed;
  }
  if (why) *why = "now serving " + describe_certificate(**built);
  std::lock_guard lock(mu_);
  context_ = std::move(*built);
  ++generation_;
  return Outcome::kReloaded;
}

}  // namespace radixmesh::tls
