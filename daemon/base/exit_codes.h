#pragma once

namespace recsd::daemon {

// Exit codes of the recsd binary, for every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // a run-time failure
inline constexpr int kExitUsage = 2;    // bad command line, or a subcommand not built yet
inline constexpr int kExitConfig = 78;  // a bad configuration (EX_CONFIG of sysexits.h)

}  // namespace recsd::daemon
