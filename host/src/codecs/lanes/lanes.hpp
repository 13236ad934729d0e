// The lockstep kernels of the lpc and mo families run up to kLanes channels at once, one SIMD
// lane per channel, built for AVX2 and for the build's baseline and chosen at run time
// (lanes_dispatch.cpp; SPIKEY_LANES=generic forces the baseline).
#pragma once

namespace spikey::host::lanes {

inline constexpr int kLanes = 8;

// The instruction set the kernels run with here ("avx2" or "generic").
const char* instruction_set();

}  // namespace spikey::host::lanes
