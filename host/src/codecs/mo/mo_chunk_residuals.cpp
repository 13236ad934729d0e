#include "codecs/mo/mo_chunk_residuals.hpp"

#include <algorithm>
#include <span>

#include "codecs/lanes/lane_batcher.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mo/mo_sources.hpp"
#include "spikey/format/codecs/stored_models.hpp"

namespace spikey::host::codecs {

namespace f = spikey::format;

namespace {

// A channel of one of the chunks predicted together.
struct ChunkItem {
  std::size_t chunk = 0, i = 0;
};

// Predicts the channels `items` of `chunks` in lane groups with model_of(item); with `adapting`,
// also with the model's LMS step where it has one. Calls visit(item, fixed, adapted or nullptr)
// for each channel of a group, then group_done() (the residuals stay valid until then).
// Channels of different chunks share a group (their lanes are independent): a recording of fewer
// channels than lanes fills them with its chunks. Each chunk's channels are visited in the order
// they have when that chunk is predicted alone.
template <class ModelOf, class Visit, class GroupDone = void (*)()>
void predict_in_lanes(std::span<const ChunkResidualInputs> chunks, const f::Metadata& meta, const std::vector<ChunkItem>& items,
                      const ModelOf& model_of, bool adapting, const Visit& visit, const GroupDone& group_done = [] {}) {
  thread_local std::vector<std::vector<std::int32_t>> weights(lanes::kLanes), source_buffers(lanes::kLanes * f::kMaxMoSources);
  thread_local std::vector<std::int32_t> fixed[lanes::kLanes], adapted[lanes::kLanes];
  const auto flush = [&](std::span<const ChunkItem> batch, std::uint32_t n) {
    lanes::MoLaneGroup group;
    group.lanes = static_cast<int>(batch.size());
    group.n = n;
    const std::int32_t* in[lanes::kLanes] = {};
    std::int32_t* out_fixed[lanes::kLanes] = {};
    std::int32_t* out_adapted[lanes::kLanes] = {};
    bool adapts[lanes::kLanes] = {}, any_step = false;
    for (std::size_t l = 0; l < batch.size(); ++l) {
      const ChunkResidualInputs& chunk = chunks[batch[l].chunk];
      const f::ChannelPredictor& predictor = meta.channels[chunk.coded->channel[batch[l].i]].predictor;
      group.model[l] = model_of(batch[l]);
      adapts[l] = adapting && group.model[l].lms_step != 0;
      any_step |= adapts[l];
      weights[l] = f::initial_weights(predictor);
      group.weights[l] = weights[l].data();
      fill_middle_out_sources(predictor, *chunk.coded, *chunk.codes, n, &source_buffers[l * f::kMaxMoSources], group.sources[l]);
      in[l] = (*chunk.codes)[batch[l].i].data();
      fixed[l].resize(n);
      adapted[l].resize(n);
      out_fixed[l] = fixed[l].data();
      out_adapted[l] = adapted[l].data();
    }
    if (any_step) lanes::mo_residuals(group, in, out_adapted);
    for (int l = 0; l < group.lanes; ++l) group.model[l].lms_step = 0;
    lanes::mo_residuals(group, in, out_fixed);
    for (std::size_t l = 0; l < batch.size(); ++l) visit(batch[l], fixed[l].data(), adapts[l] ? adapted[l].data() : nullptr);
    group_done();
  };
  // Lanes grouped by what they pay for: the network, and (when adapting) the second prediction.
  std::vector<int> kind(items.size());
  for (std::size_t k = 0; k < items.size(); ++k) {
    const f::MoModel model = model_of(items[k]);
    kind[k] = (model.uses_network() ? 2 : 0) + (adapting && model.lms_step != 0 ? 1 : 0);
  }
  for (int group_kind = 0; group_kind < 4; ++group_kind) {
    lanes::LaneBatcher<ChunkItem, decltype(flush)> batcher(flush);
    for (std::size_t k = 0; k < items.size(); ++k)
      if (kind[k] == group_kind) batcher.add(items[k], static_cast<std::uint32_t>((*chunks[items[k].chunk].codes)[items[k].i].size()));
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
  const ChunkResidualInputs chunk{&codes, &coded, first, end};
  for_each_mo_residuals(std::span<const ChunkResidualInputs>(&chunk, 1), meta,
                        [&](std::size_t, std::size_t i, const std::int32_t* z, bool adapt) { visit(i, z, adapt); });
}

void for_each_mo_residuals(std::span<const ChunkResidualInputs> chunks, const f::Metadata& meta, const ChunksResidualVisit& visit) {
  for_each_mo_residual_group(chunks, meta, [&](std::span<const ChannelResiduals> group) {
    for (const ChannelResiduals& c : group) visit(c.chunk, c.channel, c.z, c.adapt);
  });
}

void for_each_mo_residual_group(std::span<const ChunkResidualInputs> chunks, const f::Metadata& meta, const ResidualGroupVisit& visit) {
  std::vector<ChunkItem> items;
  for (std::size_t c = 0; c < chunks.size(); ++c)
    for (std::size_t i = chunks[c].first; i < chunks[c].end; ++i)
      if (!meta.channels[chunks[c].coded->channel[i]].sync) items.push_back({c, i});
  const auto model_of = [&](const ChunkItem& item) {
    return f::mo_model_of(meta.channels[chunks[item.chunk].coded->channel[item.i]].predictor, meta.codec);
  };
  std::vector<ChannelResiduals> group;
  group.reserve(lanes::kLanes);
  predict_in_lanes(chunks, meta, items, model_of, true, [&](const ChunkItem& item, const std::int32_t* fixed, const std::int32_t* adapted) {
    const auto n = static_cast<std::uint32_t>((*chunks[item.chunk].codes)[item.i].size());
    const bool adapt = adapted != nullptr && format::mo_residual_cost(adapted, n) < format::mo_residual_cost(fixed, n);
    group.push_back({item.chunk, item.i, adapt ? adapted : fixed, adapt});
  }, [&] {
    visit(std::span<const ChannelResiduals>(group));
    group.clear();
  });
}

std::vector<std::pair<std::size_t, std::size_t>> lane_filling_chunk_groups(std::size_t count, std::size_t coded_channels, unsigned threads) {
  const std::size_t fill = static_cast<std::size_t>(lanes::kLanes) / std::max<std::size_t>(1, coded_channels);
  const std::size_t per_group = std::min(fill, (count + std::max(1u, threads) - 1) / std::max(1u, threads));
  std::vector<std::pair<std::size_t, std::size_t>> groups;
  if (per_group < 2) return groups;
  for (std::size_t first = 0; first < count; first += per_group) groups.emplace_back(first, std::min(count, first + per_group));
  return groups;
}

void for_each_fixed_mo_residuals(const std::vector<std::vector<std::int32_t>>& codes, const f::ChunkChannels& coded, const f::Metadata& meta,
                                 const std::vector<std::size_t>& items, const ModelOf& model_of, const FixedResidualVisit& visit) {
  const ChunkResidualInputs chunk{&codes, &coded, 0, coded.channel.size()};
  std::vector<ChunkItem> chunk_items;
  for (const std::size_t i : items) chunk_items.push_back({0, i});
  predict_in_lanes(std::span<const ChunkResidualInputs>(&chunk, 1), meta, chunk_items, [&](const ChunkItem& item) { return model_of(item.i); }, false,
                   [&](const ChunkItem& item, const std::int32_t* fixed, const std::int32_t*) { visit(item.i, fixed); });
}

}  // namespace spikey::host::codecs
