#include "codecs/mo/mo_chunk_residuals.hpp"

#include <span>

#include "codecs/lanes/lane_batcher.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mo/mo_sources.hpp"
#include "spikey/format/codecs/stored_models.hpp"

namespace spikey::host::codecs {

namespace f = spikey::format;

namespace {

// Predicts the channels `items` of the chunk in lane groups with model_of(i); with `adapting`,
// also with the model's LMS step where it has one. Calls visit(i, fixed, adapted or nullptr).
template <class ModelOf, class Visit>
void predict_in_lanes(const std::vector<std::vector<std::int32_t>>& codes, const f::ChunkChannels& coded, const f::Metadata& meta,
                      const std::vector<std::size_t>& items, const ModelOf& model_of, bool adapting, const Visit& visit) {
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
      group.model[l] = model_of(batch[l]);
      adapts[l] = adapting && group.model[l].lms_step != 0;
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
    for (std::size_t l = 0; l < batch.size(); ++l) visit(batch[l], fixed[l].data(), adapts[l] ? adapted[l].data() : nullptr);
  };
  // Lanes grouped by what they pay for: the network, and (when adapting) the second prediction.
  std::vector<int> kind(items.size());
  for (std::size_t k = 0; k < items.size(); ++k) {
    const f::MoModel model = model_of(items[k]);
    kind[k] = (model.uses_network() ? 2 : 0) + (adapting && model.lms_step != 0 ? 1 : 0);
  }
  for (int group_kind = 0; group_kind < 4; ++group_kind) {
    lanes::LaneBatcher<std::size_t, decltype(flush)> batcher(flush);
    for (std::size_t k = 0; k < items.size(); ++k)
      if (kind[k] == group_kind) batcher.add(items[k], static_cast<std::uint32_t>(codes[items[k]].size()));
    batcher.finish();
  }
}

}  // namespace

void for_each_mo_residuals(const std::vector<std::vector<std::int32_t>>& codes, const f::ChunkChannels& coded, const f::Metadata& meta,
                           const ResidualVisit& visit) {
  for_each_mo_residuals(codes, coded, meta, 0, coded.channel.size(), visit);
}

void for_each_mo_residuals(const std::vector<std::vector<std::int32_t>>& codes, const f::ChunkChannels& coded, const f::Metadata& meta,
                           std::size_t first, std::size_t end, const ResidualVisit& visit) {
  std::vector<std::size_t> items;
  for (std::size_t i = first; i < end; ++i)
    if (!meta.channels[coded.channel[i]].sync) items.push_back(i);
  const auto model_of = [&](std::size_t i) { return f::mo_model_of(meta.channels[coded.channel[i]].predictor, meta.codec); };
  predict_in_lanes(codes, coded, meta, items, model_of, true, [&](std::size_t i, const std::int32_t* fixed, const std::int32_t* adapted) {
    const auto n = static_cast<std::uint32_t>(codes[i].size());
    const bool adapt = adapted != nullptr && format::mo_residual_cost(adapted, n) < format::mo_residual_cost(fixed, n);
    visit(i, adapt ? adapted : fixed, adapt);
  });
}

void for_each_fixed_mo_residuals(const std::vector<std::vector<std::int32_t>>& codes, const f::ChunkChannels& coded, const f::Metadata& meta,
                                 const std::vector<std::size_t>& items, const ModelOf& model_of, const FixedResidualVisit& visit) {
  predict_in_lanes(codes, coded, meta, items, model_of, false, [&](std::size_t i, const std::int32_t* fixed, const std::int32_t*) { visit(i, fixed); });
}

}  // namespace spikey::host::codecs
