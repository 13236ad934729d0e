// The lockstep kernel for the baseline instruction set of the build.
// Everything the body includes comes first, outside the namespace.
#include <algorithm>
#include <cstring>
#include <vector>

#include "spikey/host/lpc_lanes.hpp"
#include "spikey/host/mo_lanes.hpp"

namespace spikey::host::lanes::generic {
#include "lpc_lanes_impl.hpp"
#include "mo_lanes_impl.hpp"
}  // namespace spikey::host::lanes::generic
