#include <cstdio>
#include <exception>

#include "daemon/cli/cli.h"

int main(int argc, char** argv) {
  try {
    return recsd::daemon::RunCli(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "recsd: %s\n", e.what());
    return recsd::daemon::kExitFailure;
  }
}
