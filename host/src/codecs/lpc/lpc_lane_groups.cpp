#include "codecs/lpc/lpc_lane_groups.hpp"

#include "codecs/lanes/lane_batcher.hpp"
#include "codecs/lpc/lpc_lane_setup.hpp"

namespace spikey::host::codecs {

void for_each_lpc_lane_group(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded, const format::Metadata& meta,
                             std::size_t first, std::size_t end, const LpcLaneGroupVisit& visit) {
  thread_local std::vector<std::vector<std::int32_t>> weights(lanes::kLanes), source_buffers(lanes::kLanes);  // reused across chunks
  const auto flush = [&](std::span<const std::size_t> batch, std::uint32_t n) {
    lanes::LpcLaneGroup group;
    group.lanes = static_cast<int>(batch.size());
    group.n = n;
    group.weight_shift = static_cast<int>(meta.codec.weight_shift);
    const std::int32_t* in[lanes::kLanes] = {};
    for (std::size_t l = 0; l < batch.size(); ++l) {
      const std::size_t i = batch[l];
      set_lpc_lane(group, static_cast<int>(l), meta.channels[coded.channel[i]].predictor, coded, codes, weights[l], source_buffers[l]);
      in[l] = codes[i].data();
    }
    visit(group, in, batch);
  };
  for (const bool adapting : {false, true}) {
    lanes::LaneBatcher<std::size_t, decltype(flush)> batcher(flush);
    for (std::size_t i = first; i < end; ++i)
      if ((meta.channels[coded.channel[i]].predictor.lms_step != 0) == adapting) batcher.add(i, static_cast<std::uint32_t>(codes[i].size()));
    batcher.finish();
  }
}

}  // namespace spikey::host::codecs
