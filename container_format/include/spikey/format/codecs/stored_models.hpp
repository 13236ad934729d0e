// From a channel's stored predictor (metadata, §4.3) to the stream coder's model (§6.6).
// Shared by the encoder and the decoder (host side only: it uses std::vector).
#pragma once

#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/codecs/mo/mo_predictor.hpp"

namespace spikey::format {

inline LpcModel lpc_model_of(const ChannelPredictor& p, std::uint32_t weight_shift) {
  LpcModel model;
  model.order = static_cast<int>(p.history_weights.size());
  model.source_half_window = p.sources.empty() ? -1 : static_cast<int>(p.sources.front().weights.size() / 2);
  model.weight_shift = static_cast<int>(weight_shift);
  model.lms_step = p.lms_step;
  return model;
}

// The weights every chunk starts from: history taps, wavelet taps (mo1), then source taps.
inline std::vector<std::int32_t> initial_weights(const ChannelPredictor& p) {
  std::vector<std::int32_t> w = p.history_weights;
  w.insert(w.end(), p.wavelet_weights.begin(), p.wavelet_weights.end());
  for (const auto& source : p.sources) w.insert(w.end(), source.weights.begin(), source.weights.end());
  return w;
}

inline MoModel mo_model_of(const ChannelPredictor& p, const CodecParams& codec) {
  MoModel model;
  model.order = static_cast<int>(p.history_weights.size());
  model.levels = p.wavelet_weights.empty() ? 0 : static_cast<int>(codec.wavelet_levels);
  model.sources = static_cast<int>(p.sources.size());
  model.half_window = static_cast<int>(codec.source_half_window);
  model.weight_shift = static_cast<int>(codec.weight_shift);
  model.lms_step = p.lms_step;
  if (codec.network && p.uses_network()) {
    model.network = &*codec.network;
    model.net_input_gain = p.network_input_gain;
    model.net_output_gain = p.network_output_gain;
  }
  return model;
}

}  // namespace spikey::format
