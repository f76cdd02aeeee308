// raise_fd_limit: lifts the soft limit on open files to the hard limit, so a
// simulated worker or the load generator with thousands of connections does
// not fail on a desktop's default soft limit (often 1024).
//
// Start-up only (main, before threads start).
#pragma once

#include <sys/resource.h>

namespace radixmesh::tools {

inline void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace radixmesh::tools
