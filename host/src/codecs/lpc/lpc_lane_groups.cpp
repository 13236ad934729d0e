#include "codecs/lpc/lpc_lane_groups.hpp"

#include "codecs/lanes/lane_batcher.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/codecs/stored_models.hpp"

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
      const format::ChannelPredictor& predictor = meta.channels[coded.channel[i]].predictor;
      group.model[l] = format::lpc_model_of(predictor, meta.codec.weight_shift);
      weights[l] = format::initial_weights(predictor);
      group.weights[l] = weights[l].data();
      if (predictor.source_channel() >= 0) {
        source_buffers[l].assign(format::source_buffer_size(n), 0);
        const std::int64_t q = coded.position(predictor.source_channel());
        if (q >= 0) {
          const auto& src = codes[static_cast<std::size_t>(q)];
          format::fill_source_buffer(src.data(), static_cast<std::uint32_t>(src.size()), n, source_buffers[l].data());
        }
        group.source_buffer[l] = source_buffers[l].data();
      }
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
