#include "model/check.h"

#include <cstdio>
#include <cstdlib>

namespace recsd {

void CheckFailed(const char* file, int line, const char* condition, const char* why) {
  // The one write model/ makes: the last words of a broken invariant before the process stops.
  std::fprintf(stderr, "recsd: check failed at %s:%d: %s (%s)\n", file, line, condition, why);
  std::abort();
}

}  // namespace recsd
