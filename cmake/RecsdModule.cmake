# recsd_module(NAME <name> [SRCS ...] [DEPS ...] [PRIVATE_DEPS ...])
#
# Creates the library recsd_<name> with the alias recsd::<name>, the one way a module is built.
# Sources are relative to the calling folder; headers are included as "<module>/<file>.h" from the
# source root. A module without sources becomes an INTERFACE library (headers only).
# DEPS are public (they appear in the module's headers); PRIVATE_DEPS only in its .cc files.
# The modules RECSD_HOT_OPTIONS applies to.
set(_recsd_hot_modules model state stream)

function(recsd_module)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target recsd_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS})
    target_include_directories(${target} PUBLIC "${PROJECT_SOURCE_DIR}")
    target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
    recsd_warnings(${target})
    if(RECSD_HOT_OPTIONS AND ARG_NAME IN_LIST _recsd_hot_modules)
      separate_arguments(_hot UNIX_COMMAND "${RECSD_HOT_OPTIONS}")
      target_compile_options(${target} PRIVATE ${_hot})
    endif()
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE "${PROJECT_SOURCE_DIR}")
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
  endif()
  add_library(recsd::${ARG_NAME} ALIAS ${target})
endfunction()

# Warnings for recsd's own code only (never for dependencies' headers, which are SYSTEM).
function(recsd_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wimplicit-fallthrough)
  # Clang checks the GUARDED_BY / REQUIRES attributes of daemon/base/mutex.h.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    target_compile_options(${target} PRIVATE -Wthread-safety)
  endif()
  if(RECSD_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
