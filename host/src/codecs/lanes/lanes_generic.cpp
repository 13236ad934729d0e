// The lockstep kernels (lpc and mo) for the baseline instruction set of the build.
// Everything the body includes comes first, outside the namespace.
#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "codecs/lpc/lpc_lanes.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mt/mt_lanes.hpp"

namespace spikey::host::lanes::generic {
#include "codecs/lpc/lpc_lanes_impl.hpp"
#include "codecs/mo/mo_lanes_impl.hpp"
#include "codecs/mt/mt_lanes_impl.hpp"
}  // namespace spikey::host::lanes::generic
