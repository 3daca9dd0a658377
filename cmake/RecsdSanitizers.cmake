# Whole-build sanitizers (RECSD_SANITIZE=address,undefined). UBSan findings abort the program, so a
# test that triggers undefined behaviour fails instead of printing a warning that nobody reads.
if(RECSD_SANITIZE)
  set(_flags -fsanitize=${RECSD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_compile_options(${_flags})
  add_link_options(${_flags})
endif()

if(RECSD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "RECSD_FUZZ needs clang (libFuzzer); configure with CMAKE_CXX_COMPILER=clang++")
  endif()
  # Coverage instrumentation for all code, so the fuzzers see inside the decoders; only the fuzz
  # targets link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
