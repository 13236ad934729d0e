// Decoding MiddleOut-predicted channels whose residual coder needs each step's predicted code
// (the mt and cm families): the needed channels of all the jobs' chunks in lockstep lane
// groups, depth by depth of the decoding order. A channel whose sources are still being
// decoded in the open group joins it, W + 1 steps behind each of them (MoLaneGroup::lag), so that
// chains of sources fill the lanes instead of leaving them idle level by level. The family
// supplies the residuals: LaneStreams decodes each lane's stream.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "codecs/decoder_family.hpp"
#include "codecs/mo/mo_lanes.hpp"

namespace spikey::host::codecs {

// The lanes' residual streams of one group, lane l at its time step - lag.
class LaneStreams : public lanes::MoResidualSource {
 public:
  // Opens lane l's stream of `channel` (n samples) and reads its header: the adapt flag and the
  // first code. False when the header is malformed.
  virtual bool start(int l, std::uint32_t lag, std::span<const std::uint8_t> stream, const format::ChannelInfo& channel, std::uint32_t n,
                     bool* adapt, std::int32_t* first_code) = 0;
  // Lane l's stream ended where it should: every byte read, the final state.
  virtual bool finished(int l) const = 0;

  int failed_lane = -1;  // the lane whose stream stopped the group
};

// A group's streams; worker: which of the decoding threads asks (per-thread scratch).
using LaneStreamsFactory = std::function<std::unique_ptr<LaneStreams>(int lanes, unsigned worker)>;

// The codes of every needed channel of every job, the groups on `threads` threads; throws the
// job's stream error (naming the codec) for a malformed stream.
void decode_in_lane_groups(const format::Metadata& meta, std::span<ChunkDecodeJob> jobs, const LaneStreamsFactory& make_streams,
                           unsigned threads);

}  // namespace spikey::host::codecs
