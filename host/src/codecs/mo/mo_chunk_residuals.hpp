// The MiddleOut residuals of a chunk as the encoders of the mo-predicted families code them,
// and as their trainers see them: each channel predicted in lockstep lanes with fixed and, when
// its predictor adapts, with adapting weights, keeping whichever gives the
// smaller sum of |z|. One place for that choice, so training looks at what the encoder codes.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/format/codecs/mo/mo_predictor.hpp"

namespace spikey::host::codecs {

// Calls visit(i, z, adapt) for every channel i of `coded` (codes[i] its codes), z[1..n-1] its
// residuals (z[0] = 0) with the chosen weights, adapt true when they adapt. Channels are
// visited in lane groups of channels alike in cost (network stage, adapting weights).
using ResidualVisit = std::function<void(std::size_t channel, const std::int32_t* z, bool adapt)>;
void for_each_mo_residuals(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded,
                           const format::Metadata& meta, const ResidualVisit& visit);

// The same for the channels [first, end) of `coded` only (sync channels skipped).
void for_each_mo_residuals(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded,
                           const format::Metadata& meta, std::size_t first, std::size_t end, const ResidualVisit& visit);

// One chunk's coded channels [first, end) (codes[i] the codes of coded.channel[i]) in a pass over
// several chunks.
struct ChunkResidualInputs {
  const std::vector<std::vector<std::int32_t>>* codes = nullptr;
  const format::ChunkChannels* coded = nullptr;
  std::size_t first = 0, end = 0;
};

// Consecutive chunks (positions 0 .. count-1) in groups [first, end) for joint passes: for a
// recording of fewer coded channels than a lane group holds, enough chunks to fill one (a
// single-channel file otherwise ran the lockstep kernels with one lane of eight), but no fewer
// groups than threads where the chunks allow. Empty when the chunks would not share groups.
std::vector<std::pair<std::size_t, std::size_t>> lane_filling_chunk_groups(std::size_t count, std::size_t coded_channels, unsigned threads);

// Whole chunks (all their coded channels) as inputs; Chunk has `codes` and `coded` pointers.
template <class Chunk>
std::vector<ChunkResidualInputs> residual_inputs(std::span<const Chunk> chunks) {
  std::vector<ChunkResidualInputs> inputs;
  for (const Chunk& c : chunks) inputs.push_back({c.codes, c.coded, 0, c.coded->channel.size()});
  return inputs;
}

// The same as for_each_mo_residuals for several chunks at once, visit(chunk, i, z, adapt) with the
// chunk's position in `chunks`: chunks share lane groups, so a recording of fewer channels than
// lanes fills them with its chunks (the residuals are the same; each chunk's channels come in the
// order they have alone).
using ChunksResidualVisit = std::function<void(std::size_t chunk, std::size_t channel, const std::int32_t* z, bool adapt)>;
void for_each_mo_residuals(std::span<const ChunkResidualInputs> chunks, const format::Metadata& meta, const ChunksResidualVisit& visit);

// A channel's residuals as for_each_mo_residuals visits them.
struct ChannelResiduals {
  std::size_t chunk = 0, channel = 0;
  const std::int32_t* z = nullptr;
  bool adapt = false;
};
// The same a lane group at a time: visit(residuals) with the group's channels in the order
// for_each_mo_residuals visits them, all of one length, so that a coder can run their streams
// side by side.
using ResidualGroupVisit = std::function<void(std::span<const ChannelResiduals> group)>;
void for_each_mo_residual_group(std::span<const ChunkResidualInputs> chunks, const format::Metadata& meta, const ResidualGroupVisit& visit);

// Calls visit(i, z) for the channels `items` of `coded`, z their residuals with fixed weights
// under model_of(i) (the channel's stored weights and sources; the model's LMS step is
// ignored): for choices made by predicting with candidate models, such as the network stage's.
using ModelOf = std::function<format::MoModel(std::size_t channel)>;
using FixedResidualVisit = std::function<void(std::size_t channel, const std::int32_t* z)>;
void for_each_fixed_mo_residuals(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded,
                                 const format::Metadata& meta, const std::vector<std::size_t>& items, const ModelOf& model_of,
                                 const FixedResidualVisit& visit);

}  // namespace spikey::host::codecs
