// A codec's parameters and a channel's predictor in the metadata JSON (SPEC.md §4.3), put
// together from the parts its row of the codec table names.
#include "codecs/codec_params.hpp"
#include "spikey/format/codecs/mt/mt_model.hpp"

namespace spikey::format {

using detail::field;
using detail::json;

json codec_to_json(const CodecParams& codec) {
  const CodecRow& row = detail::known_codec(codec.name);
  json j = {{"name", codec.name}, {"partition_size", codec.partition_size}};
  if (row.has_predictors()) j["weight_shift"] = codec.weight_shift;
  if (row.predictor == PredictorKind::middle_out) detail::middle_out_params_to_json(codec, j);
  if (row.has_network() && codec.network) j["network"] = detail::network_to_json(*codec.network);
  if (row.has_context_model()) detail::cm_model_to_json(codec, j);
  return j;
}

CodecParams codec_from_json(const json& j) {
  CodecParams codec;
  codec.name = field<std::string>(j, "name", "codec");
  const CodecRow& row = detail::known_codec(codec.name);
  codec.partition_size = field<std::uint32_t>(j, "partition_size", "codec");
  if (row.has_predictors()) codec.weight_shift = field<std::uint32_t>(j, "weight_shift", "codec");
  if (row.predictor == PredictorKind::middle_out) detail::middle_out_params_from_json(j, codec);
  if (row.has_network()) codec.network = detail::network_from_json(field<json>(j, "network", "codec"), row.network == NetworkKind::gru);
  if (row.has_context_model()) detail::cm_model_from_json(j, codec);
  if (row.coder == ResidualCoder::table_rans && codec.cm_prior.size() > kMtMaxPriorPeriod)
    detail::fail("metadata: codec.prior's period must be at most " + std::to_string(kMtMaxPriorPeriod) + " for codec " + codec.name);
  return codec;
}

json predictor_to_json(const ChannelPredictor& p, const CodecParams& codec) {
  return detail::known_codec(codec.name).predictor == PredictorKind::middle_out ? detail::mo_predictor_to_json(p) : detail::lpc_predictor_to_json(p);
}

ChannelPredictor predictor_from_json(const json& j, const CodecParams& codec, const std::string& where) {
  return detail::known_codec(codec.name).predictor == PredictorKind::middle_out ? detail::mo_predictor_from_json(j, where)
                                                                                 : detail::lpc_predictor_from_json(j, where);
}

}  // namespace spikey::format
