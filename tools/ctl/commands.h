// radixmesh-ctl subcommands: each builds one admin API request, checks the
// answer and prints a human view (aligned tables) or, with --json, the JSON.
//
// Errors are one line on stderr ("radixmesh-ctl: ...") and an exit code:
// 1 the router answered with an error (401 bad token, 404 unknown model...),
// 2 usage, 3 unreachable. snapshot inspect runs offline (no router needed).
//
// Threads: run_ctl is called once from main.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace radixmesh::tools {

inline constexpr int kExitApiError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

// args: argv without the program name. env: RADIXMESH_ADMIN, RADIXMESH_ADMIN_TOKEN.
int run_ctl(const std::vector<std::string>& args, const std::string& env_admin,
            const std::string& env_token, std::ostream& out, std::ostream& err);

}  // namespace radixmesh::tools
