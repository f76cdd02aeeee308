// File descriptor budget: the open-files limit, the data-plane connection
// cap derived from it, and the errors that mean "this process is out of
// descriptors" (a local shortage, never a worker's fault).
//
// Every proxied client connection may hold one upstream connection while its
// request is in flight, so the cap is half of what is left after a reserve
// for everything else (admin and mesh sockets, health checks, DNS, log and
// config files, epoll):
//
//   reserve         = min(256, soft_limit / 4)
//   max_connections = max(1, (soft_limit - reserve) / 2)
//
//   soft limit   256 -> reserve  64 -> 96 connections
//   soft limit  1024 -> reserve 256 -> 384
//   soft limit 65536 -> reserve 256 -> 32640
//
// Threads: raise_open_files_limit() at start-up only (before threads start);
// the rest are pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "router/net.h"

namespace radixmesh::router {

struct OpenFilesLimit {
  uint64_t soft_before = 0;  // the soft limit the process started with
  uint64_t soft = 0;         // the soft limit now
  uint64_t hard = 0;
  std::string error;  // getrlimit/setrlimit failure, if any (soft == soft_before then)
};

// Raises the soft RLIMIT_NOFILE to the hard limit where allowed.
OpenFilesLimit raise_open_files_limit();

// The default --max-connections for a soft open-files limit (formula above).
uint64_t default_max_connections(uint64_t soft_limit);

// EMFILE, ENFILE, ENOBUFS, ENOMEM: the local process or host ran out of
// descriptors or socket memory. Such a failure to reach a worker says nothing
// about the worker: no breaker failure, no unhealthy mark.
bool is_local_resource_error(const error_code& ec);

// Opens `socket` for the first of `endpoints` and returns the error. Called
// before a connect so that EMFILE comes back as itself: a range connect that
// cannot open its socket reports a generic failure instead.
error_code open_for_connect(tcp::socket& socket, const tcp::resolver::results_type& endpoints);

}  // namespace radixmesh::router
