// Residuals in partitions, as the Rice (rice1) and Golomb (lpc1, mo1-mo3) streams code them:
// after the first code of the chunk (kWarmupBits), the n-1 residuals in runs of
// `partition_size`, the last one possibly shorter.
#pragma once

#include <cstdint>

#include "spikey/format/hd.hpp"

namespace spikey::format {

inline constexpr int kWarmupBits = 32;  // the chunk's first code

SPIKEY_HD std::uint32_t partition_count(std::uint32_t residual_count, std::uint32_t partition_size) {
  return (residual_count + partition_size - 1) / partition_size;
}

}  // namespace spikey::format
