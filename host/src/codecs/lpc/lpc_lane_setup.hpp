// One lane of an lpc1 lockstep group set up from its channel's stored predictor: the model, the
// weights every chunk starts from and the source channel's window, as the encoder, the decoder
// and the training's trial of adapting weights all need it.
#pragma once

#include <cstdint>
#include <vector>

#include "codecs/lpc/lpc_lanes.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/codecs/stored_models.hpp"

namespace spikey::host::codecs {

// Lane l of `group` (whose n and weight_shift are set) for `predictor`; `codes[i]` are the codes
// of present.channel[i]. `weights` and `source_buffer` hold what the lane points to.
template <class Codes>
void set_lpc_lane(lanes::LpcLaneGroup& group, int l, const format::ChannelPredictor& predictor, const format::ChunkChannels& present,
                  const Codes& codes, std::vector<std::int32_t>& weights, std::vector<std::int32_t>& source_buffer) {
  group.model[l] = format::lpc_model_of(predictor, static_cast<std::uint32_t>(group.weight_shift));
  weights = format::initial_weights(predictor);
  group.weights[l] = weights.data();
  group.source_buffer[l] = nullptr;
  if (predictor.source_channel() < 0) return;
  source_buffer.assign(format::source_buffer_size(group.n), 0);
  const std::int64_t q = present.position(predictor.source_channel());
  if (q >= 0) {
    const auto& source = codes[static_cast<std::size_t>(q)];
    format::fill_source_buffer(source.data(), static_cast<std::uint32_t>(source.size()), group.n, source_buffer.data());
  }
  group.source_buffer[l] = source_buffer.data();
}

}  // namespace spikey::host::codecs
