#pragma once

// RECSD_CHECK(cond, why): an always-on check of an invariant of recsd's own code. A failure is a
// bug, never bad input: it prints where and why to stderr and aborts. Never use it on external
// input.

namespace recsd {

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition, const char* why);

}  // namespace recsd

#define RECSD_CHECK(cond, why)                                \
  do {                                                        \
    if (!(cond)) [[unlikely]] {                               \
      ::recsd::CheckFailed(__FILE__, __LINE__, #cond, (why)); \
    }                                                         \
  } while (false)
