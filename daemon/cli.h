#pragma once

namespace recsd::daemon {

// Exit codes of the recsd binary.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // a run-time failure
inline constexpr int kExitUsage = 2;    // bad command line, or a subcommand not built yet
// kExitConfig (78) is in config.h.

// Parses the command line, sets up logging and runs the chosen subcommand. Returns the exit code.
// May throw only on start-up failures that main() reports.
int RunCli(int argc, char** argv);

}  // namespace recsd::daemon
