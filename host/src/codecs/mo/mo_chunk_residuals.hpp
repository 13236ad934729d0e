// The MiddleOut residuals of a chunk as the encoders of the mo-predicted families code them,
// and as their trainers see them: each channel predicted in lockstep lanes with fixed and, when
// its predictor adapts, with adapting weights, keeping whichever gives the
// smaller sum of |z|. One place for that choice, so training looks at what the encoder codes.
#pragma once

#include <cstdint>
#include <functional>
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

// Calls visit(i, z) for the channels `items` of `coded`, z their residuals with fixed weights
// under model_of(i) (the channel's stored weights and sources; the model's LMS step is
// ignored): for choices made by predicting with candidate models, such as the network stage's.
using ModelOf = std::function<format::MoModel(std::size_t channel)>;
using FixedResidualVisit = std::function<void(std::size_t channel, const std::int32_t* z)>;
void for_each_fixed_mo_residuals(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded,
                                 const format::Metadata& meta, const std::vector<std::size_t>& items, const ModelOf& model_of,
                                 const FixedResidualVisit& visit);

}  // namespace spikey::host::codecs
