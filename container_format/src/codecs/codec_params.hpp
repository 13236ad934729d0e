// Each codec family's part of the metadata (SPEC.md §4.3, §6): its codec parameters and channel
// predictors in the JSON, and their validation. codec_json.cpp puts a codec's parts together from
// its row of the codec table. Internal to the format library.
#pragma once

#include <string>
#include <vector>

#include "json_fields.hpp"

namespace spikey::format::detail {

// lpc1 (§6.6): history taps and at most one source channel, one level deep.
json lpc_predictor_to_json(const ChannelPredictor& p);
ChannelPredictor lpc_predictor_from_json(const json& j, const std::string& where);
void validate_lpc_predictors(const Metadata& m);

// MiddleOut (§6.7): source window and wavelet levels of the codec; history, wavelet and source
// taps of each channel, whose sources form no cycle.
void middle_out_params_to_json(const CodecParams& codec, json& j);
void middle_out_params_from_json(const json& j, CodecParams& codec);
json mo_predictor_to_json(const ChannelPredictor& p);
ChannelPredictor mo_predictor_from_json(const json& j, const std::string& where);
void validate_mo_predictors(const Metadata& m);

// The network stage (§6.8): the recording's network, ReLU layer or GRU cell.
json network_to_json(const MoNetwork& net);
MoNetwork network_from_json(const json& j, bool gru);

// The context model (§6.9): shapes, prior and scale rate.
void cm_model_to_json(const CodecParams& codec, json& j);
void cm_model_from_json(const json& j, CodecParams& codec);

}  // namespace spikey::format::detail
