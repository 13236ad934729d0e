// lpc1's channels in the lockstep kernels' lane groups, each group set up with its lanes'
// models, starting weights and source buffers: the encoder codes them, lpc1's training tries
// them with adapting weights against fixed ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "codecs/lpc/lpc_lanes.hpp"
#include "spikey/format/archive.hpp"
#include "spikey/format/chunk_payload.hpp"

namespace spikey::host::codecs {

// Calls visit(group, codes, lanes) for the channels [first, end) of `coded` (codes[i] the codes
// of coded.channel[i]) in lane groups; lanes[l] is lane l's position in `coded`. Channels whose
// weights adapt (lms_step != 0) share groups only with one another, so that a group of the
// others is folded once, not also with adapting weights that no lane uses.
using LpcLaneGroupVisit = std::function<void(lanes::LpcLaneGroup& group, const std::int32_t* const* codes, std::span<const std::size_t> lanes)>;
void for_each_lpc_lane_group(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded, const format::Metadata& meta,
                             std::size_t first, std::size_t end, const LpcLaneGroupVisit& visit);

}  // namespace spikey::host::codecs
