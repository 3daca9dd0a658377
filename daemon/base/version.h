#pragma once

#include <string>

namespace recsd::daemon {

// recsd's version (from CMakeLists.txt) and git revision (at build time; "unknown" outside git).
const char* Version();
const char* Revision();

// The report of `recsd version`: recsd's version and revision, then one line per dependency with
// its compile-time version (and librdkafka's run-time version, which can differ).
std::string VersionReport();

}  // namespace recsd::daemon
