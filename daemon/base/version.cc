#include "daemon/base/version.h"

#include <sstream>

#include <fmt/core.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/version.h>
#include <toml++/toml.h>
#include <CLI/Version.hpp>
#include <Eigen/Core>
#include <boost/version.hpp>
#include <msgpack/version.hpp>
#include <nlohmann/json.hpp>

#include "recsd_revision.h"

namespace recsd::daemon {

const char* Version() { return RECSD_VERSION; }
const char* Revision() { return RECSD_REVISION; }

std::string VersionReport() {
  std::ostringstream out;
  const int rk = RD_KAFKA_VERSION;
  out << "recsd " << Version() << " (revision " << Revision() << ")\n"
      << "librdkafka " << rd_kafka_version_str() << " (built against " << ((rk >> 24) & 0xff) << "."
      << ((rk >> 16) & 0xff) << "." << ((rk >> 8) & 0xff) << ")\n"
      << "eigen " << EIGEN_WORLD_VERSION << "." << EIGEN_MAJOR_VERSION << "." << EIGEN_MINOR_VERSION
      << "\n"
      << "boost " << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "."
      << BOOST_VERSION % 100 << "\n"
      << "msgpack-cxx " << msgpack_version() << "\n"
      << "spdlog " << SPDLOG_VER_MAJOR << "." << SPDLOG_VER_MINOR << "." << SPDLOG_VER_PATCH << "\n"
      << "fmt " << FMT_VERSION / 10000 << "." << FMT_VERSION / 100 % 100 << "." << FMT_VERSION % 100
      << "\n"
      << "prometheus-cpp " << RECSD_PROMETHEUS_CPP_VERSION << "\n"
      << "toml++ " << TOML_LIB_MAJOR << "." << TOML_LIB_MINOR << "." << TOML_LIB_PATCH << "\n"
      << "cli11 " << CLI11_VERSION << "\n"
      << "nlohmann-json " << NLOHMANN_JSON_VERSION_MAJOR << "." << NLOHMANN_JSON_VERSION_MINOR
      << "." << NLOHMANN_JSON_VERSION_PATCH << "\n";
  return out.str();
}

}  // namespace recsd::daemon
