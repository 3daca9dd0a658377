# Every third-party dependency of recsd, found once. All come from Debian bookworm packages that
# ops/install-deps.sh installs; versions are in ../shared/FIELD_NOTES.md and `recsd version`.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(Boost 1.74 REQUIRED)
find_package(msgpack REQUIRED)           # target msgpackc-cxx (header-only msgpack-cxx)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(prometheus-cpp REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)

# msgpack-cxx pulls Boost headers unless told not to; recsd uses its std-only API.
target_compile_definitions(msgpackc-cxx INTERFACE MSGPACK_NO_BOOST)

# prometheus-cpp installs no version file; Debian's package database knows it.
execute_process(COMMAND dpkg-query -W -f=\${Version} prometheus-cpp-dev
                OUTPUT_VARIABLE RECSD_PROMETHEUS_CPP_VERSION ERROR_QUIET)
if(NOT RECSD_PROMETHEUS_CPP_VERSION)
  set(RECSD_PROMETHEUS_CPP_VERSION "unknown")
endif()
