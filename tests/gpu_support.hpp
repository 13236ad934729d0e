// GPU test gate: skip without a device, unless SPIKEY_REQUIRE_GPU=1 makes that a failure
// (the device machine sets it, so a broken driver cannot pass as "skipped").
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "spikey/cuda/device.hpp"

#define SPIKEY_REQUIRE_DEVICE_OR_SKIP()                                                    \
  do {                                                                                     \
    if (::spikey::cuda::device_count() == 0) {                                             \
      const char* require = std::getenv("SPIKEY_REQUIRE_GPU");                             \
      if (require != nullptr && std::string(require) == "1")                               \
        FAIL() << "SPIKEY_REQUIRE_GPU=1 but no CUDA device is usable";                     \
      GTEST_SKIP() << "no CUDA device (set SPIKEY_REQUIRE_GPU=1 to make this a failure)"; \
    }                                                                                      \
  } while (0)
