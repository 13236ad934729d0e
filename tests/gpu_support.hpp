// GPU test gates: skip without a device, unless SPIKEY_REQUIRE_GPU=1 makes that a failure
// (the device machine sets it, so a broken driver cannot pass as "skipped"); under the same
// setting, real data a GPU test needs must be there.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "spikey/cuda/device.hpp"

namespace spikey::test {

inline bool gpu_required() {
  const char* require = std::getenv("SPIKEY_REQUIRE_GPU");
  return require != nullptr && std::string(require) == "1";
}

}  // namespace spikey::test

#define SPIKEY_REQUIRE_DEVICE_OR_SKIP()                                                    \
  do {                                                                                     \
    if (::spikey::cuda::device_count() == 0) {                                             \
      if (::spikey::test::gpu_required()) FAIL() << "SPIKEY_REQUIRE_GPU=1 but no CUDA device is usable"; \
      GTEST_SKIP() << "no CUDA device (set SPIKEY_REQUIRE_GPU=1 to make this a failure)"; \
    }                                                                                      \
  } while (0)

// Data a GPU test reads: a skip without it, a failure under SPIKEY_REQUIRE_GPU=1 (a device run
// whose data did not travel must not pass).
#define SPIKEY_REQUIRE_GPU_DATA_OR_SKIP(path)                                                                         \
  do {                                                                                                                \
    if (!std::filesystem::exists(path)) {                                                                             \
      if (::spikey::test::gpu_required()) FAIL() << "SPIKEY_REQUIRE_GPU=1 but the test's data " << (path) << " is absent"; \
      GTEST_SKIP() << (path) << " is absent";                                                                         \
    }                                                                                                                 \
  } while (0)
