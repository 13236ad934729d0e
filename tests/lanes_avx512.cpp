// The lockstep kernels compiled with AVX-512 enabled, as a -march=native build compiles them on
// such a CPU, so that tests can compare them with the reference: GCC 12 with AVX-512VL compiled
// an AVX2 blend whose mask was a complement as a blend by the mask itself (the mt decoder's probe
// selection, fixed in mt_lanes_impl.hpp). The product dispatches to AVX2 or generic builds only.
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "codecs/lpc/lpc_lanes.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mt/mt_lanes.hpp"

namespace spikey::host::lanes::avx512 {
#include "codecs/lpc/lpc_lanes_impl.hpp"
#include "codecs/mo/mo_lanes_impl.hpp"
#include "codecs/mt/mt_lanes_impl.hpp"
}  // namespace spikey::host::lanes::avx512
