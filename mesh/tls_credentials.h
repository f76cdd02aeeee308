// TlsCredentials: the mesh's mutual-TLS context built from three PEM files
// (--mesh-tls-cert-file, --mesh-tls-key-file, --mesh-tls-ca-file) and
// rebuilt when they change (docs/mesh-protocol.md §3, "TLS").
//
// The context serves both roles of a connection: TLS 1.2 at least, no
// renegotiation, no compression; our certificate chain and key; the peer's
// certificate is required and verified against the CA file (the acceptor
// sends a CertificateRequest naming that CA and fails a client without a
// certificate). The chain is what is verified, not the peer's host name: see
// the protocol document for why.
//
// Rotation: poll() compares each file's (inode, size, mtime) with the last
// load, so an atomic symlink swap (a Kubernetes Secret update) or a
// rewrite is seen; reload() rebuilds regardless (SIGHUP). A new context
// replaces current() only when the whole set loads and the key matches the
// certificate; otherwise the old one stays and the error is returned.
// Connections keep the context they started with (they hold a shared_ptr),
// so rotation affects new connections only.
//
// Threads: not thread-safe; MeshNode uses it on the mesh strand. Files are
// small PEM files read synchronously (a few hundred microseconds).
#pragma once

#include <memory>
#include <string>

#include "mesh/tls_fwd.h"
#include "radix/result.h"

namespace radixmesh::mesh {

struct TlsFiles {
  std::string cert;  // PEM certificate chain (leaf first)
  std::string key;   // PEM private key of the leaf
  std::string ca;    // PEM CA certificate(s) peers must chain to
  bool enabled() const { return !cert.empty() || !key.empty() || !ca.empty(); }
  bool operator==(const TlsFiles&) const = default;
};

// Builds a context from the files; an error names the file and OpenSSL's reason.
Result<std::shared_ptr<TlsContext>> make_tls_context(const TlsFiles& files);

class TlsCredentials {
 public:
  explicit TlsCredentials(TlsFiles files) : files_(std::move(files)) {}

  enum class Outcome { kUnchanged, kReloaded, kFailed };
  // First load (start-up): an error is a configuration error.
  Status load();
  // Reloads when a file changed since the last attempt (a failed attempt is
  // not retried until the files change again or reload() is called).
  Outcome poll(std::string* why = nullptr);
  // Reloads now.
  Outcome reload(std::string* why = nullptr);

  std::shared_ptr<TlsContext> current() const { return current_; }
  const TlsFiles& files() const { return files_; }

 private:
  // (inode, size, mtime ns) of each file; empty when one cannot be stat'ed.
  std::string signature() const;

  TlsFiles files_;
  std::shared_ptr<TlsContext> current_;
  std::string signature_;  // of the last attempt
};

}  // namespace radixmesh::mesh
