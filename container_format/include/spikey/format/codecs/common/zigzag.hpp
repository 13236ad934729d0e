// Signed <-> unsigned folding of prediction residuals (SPEC.md §6.2).
#pragma once

#include "spikey/format/hd.hpp"

namespace spikey::format {

// 0, -1, 1, -2, 2, ... -> 0, 1, 2, 3, 4, ...  Wrapping arithmetic in uint32: defined for every int32.
SPIKEY_HD std::uint32_t zigzag_encode(std::int32_t residual) {
  const auto bits = static_cast<std::uint32_t>(residual);
  return (bits << 1) ^ (0u - (bits >> 31));
}

SPIKEY_HD std::int32_t zigzag_decode(std::uint32_t folded) {
  return static_cast<std::int32_t>((folded >> 1) ^ (0u - (folded & 1u)));
}

}  // namespace spikey::format
