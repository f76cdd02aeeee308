// radixmesh: the router daemon. Reads the configuration (flags, env, file),
// builds the App and runs it until SIGTERM/SIGINT.
#include <cstdlib>
#include <exception>
#include <iostream>

#include "router/app.h"
#include "router/component_options.h"
#include "router/config.h"
#include "router/log.h"

#ifndef RADIXMESH_VERSION
#define RADIXMESH_VERSION "dev"
#endif

int main(int argc, char** argv) {
  using namespace radixmesh::router;
  auto config = parse_config(argc, argv, process_environment());
  if (!config.ok()) {
    std::cerr << "radixmesh: " << config.error().message << "\n"
              << "run 'radixmesh --help' for the list of flags\n";
    return 2;
  }
  if (auto code = handle_informational_flags(*config, std::cout, RADIXMESH_VERSION)) {
    return *code;
  }
  const Logger log(Logger::parse_level(component_options(*config).log_level));
  bool clean = true;
  try {
    App app(std::move(config).value(), log);
    clean = app.run();
    if (!clean) std::_Exit(1);
  } catch (const std::exception& e) {
    log.error(std::string("start-up failed: ") + e.what());
    return 1;
  }
  log.info("stopped");
  return 0;
}
