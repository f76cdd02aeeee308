// radixmesh-ctl: the admin CLI of the radixmesh router (see commands.h).
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "tools/ctl/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* admin = std::getenv("RADIXMESH_ADMIN");
  const char* token = std::getenv("RADIXMESH_ADMIN_TOKEN");
  return radixmesh::tools::run_ctl(args, admin ? admin : "", token ? token : "", std::cout,
                                   std::cerr);
}
