#pragma once

#include "daemon/base/exit_codes.h"

namespace recsd::daemon {

// Parses the command line, sets up logging and runs the chosen subcommand. Returns the exit code.
// May throw only on start-up failures that main() reports.
int RunCli(int argc, char** argv);

}  // namespace recsd::daemon
