#include "router/fd_budget.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace radixmesh::router {

OpenFilesLimit raise_open_files_limit() {
  OpenFilesLimit out;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    out.error = std::string("getrlimit: ") + std::strerror(errno);
    return out;
  }
  out.soft_before = out.soft = lim.rlim_cur;
  out.hard = lim.rlim_max;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      out.soft = raised.rlim_cur;
    } else {
      out.error = std::string("setrlimit: ") + std::strerror(errno);
    }
  }
  return out;
}

uint64_t default_max_connections(uint64_t soft_limit) {
  const uint64_t reserve = std::min<uint64_t>(256, soft_limit / 4);
  if (soft_limit <= reserve) return 1;
  return std::max<uint64_t>(1, (soft_limit - reserve) / 2);
}

bool is_local_resource_error(const error_code& ec) {
  // Compared as error conditions: true for the system and generic categories.
  using boost::system::errc::errc_t;
  return ec == errc_t::too_many_files_open ||            // EMFILE
         ec == errc_t::too_many_files_open_in_system ||  // ENFILE
         ec == errc_t::no_buffer_space ||                // ENOBUFS
         ec == errc_t::not_enough_memory;                // ENOMEM
}

error_code open_for_connect(tcp::socket& socket, const tcp::resolver::results_type& endpoints) {
  error_code ec;
  if (endpoints.empty()) return ec;
  socket.open(endpoints.begin()->endpoint().protocol(), ec);
  return ec;
}

}  // namespace radixmesh::router
