#include "codecs/mo/mo_chunk_residuals.hpp"

#include <span>

#include "codecs/lanes/lane_batcher.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mo/mo_sources.hpp"
#include "spikey/format/codecs/stored_models.hpp"

namespace spikey::host::codecs {

namespace f = spikey::format;

std::uint64_t residual_cost_estimate(const std::int32_t* z, std::uint32_t n) {
  std::uint64_t sum = 0;
  for (std::uint32_t t = 1; t < n; ++t) sum += static_cast<std::uint64_t>(z[t] < 0 ? -std::int64_t{z[t]} : std::int64_t{z[t]});
  return sum;
}

void for_each_mo_residuals(const std::vector<std::vector<std::int32_t>>& codes, const f::ChunkChannels& coded, const f::Metadata& meta,
                           const ResidualVisit& visit) {
  thread_local std::vector<std::vector<std::int32_t>> weights(lanes::kLanes), source_buffers(lanes::kLanes * f::kMaxMoSources);
  thread_local std::vector<std::int32_t> fixed[lanes::kLanes], adapted[lanes::kLanes];
  const auto flush = [&](std::span<const std::size_t> batch, std::uint32_t n) {
    lanes::MoLaneGroup group;
    group.lanes = static_cast<int>(batch.size());
    group.n = n;
    const std::int32_t* in[lanes::kLanes] = {};
    std::int32_t* out_fixed[lanes::kLanes] = {};
    std::int32_t* out_adapted[lanes::kLanes] = {};
    bool adapts[lanes::kLanes] = {}, any_step = false;
    for (std::size_t l = 0; l < batch.size(); ++l) {
      const f::ChannelPredictor& predictor = meta.channels[coded.channel[batch[l]]].predictor;
      group.model[l] = f::mo_model_of(predictor, meta.codec);
      adapts[l] = group.model[l].lms_step != 0;
      any_step |= adapts[l];
      weights[l] = f::initial_weights(predictor);
      group.weights[l] = weights[l].data();
      fill_middle_out_sources(predictor, coded, codes, n, &source_buffers[l * f::kMaxMoSources], group.sources[l]);
      in[l] = codes[batch[l]].data();
      fixed[l].resize(n);
      adapted[l].resize(n);
      out_fixed[l] = fixed[l].data();
      out_adapted[l] = adapted[l].data();
    }
    if (any_step) lanes::mo_residuals(group, in, out_adapted);
    for (int l = 0; l < group.lanes; ++l) group.model[l].lms_step = 0;
    lanes::mo_residuals(group, in, out_fixed);
    for (std::size_t l = 0; l < batch.size(); ++l) {
      const bool adapt = adapts[l] && residual_cost_estimate(adapted[l].data(), n) < residual_cost_estimate(fixed[l].data(), n);
      visit(batch[l], adapt ? adapted[l].data() : fixed[l].data(), adapt);
    }
  };
  // Channels with and without the network stage in separate groups (a group pays for the
  // network when any of its lanes uses it).
  for (const bool network : {false, true}) {
    lanes::LaneBatcher<std::size_t, decltype(flush)> batcher(flush);
    for (std::size_t i = 0; i < coded.channel.size(); ++i)
      if (meta.channels[coded.channel[i]].predictor.uses_network() == network) batcher.add(i, static_cast<std::uint32_t>(codes[i].size()));
    batcher.finish();
  }
}

}  // namespace spikey::host::codecs
