// The lockstep kernel built for AVX2 (compiled with -mavx2; used only when the CPU has it).
// Everything the body includes comes first, outside the namespace.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "spikey/host/lpc_lanes.hpp"
#include "spikey/host/mo_lanes.hpp"

namespace spikey::host::lanes::avx2 {
#include "lpc_lanes_impl.hpp"
#include "mo_lanes_impl.hpp"
}  // namespace spikey::host::lanes::avx2
