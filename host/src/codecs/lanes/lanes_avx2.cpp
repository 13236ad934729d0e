// The lockstep kernels (lpc and mo) built for AVX2 (compiled with -mavx2; used only when the CPU has it).
// Everything the body includes comes first, outside the namespace.
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "codecs/lpc/lpc_lanes.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mt/mt_lanes.hpp"

namespace spikey::host::lanes::avx2 {
#include "codecs/lpc/lpc_lanes_impl.hpp"
#include "codecs/mo/mo_lanes_impl.hpp"
#include "codecs/mt/mt_lanes_impl.hpp"
}  // namespace spikey::host::lanes::avx2
