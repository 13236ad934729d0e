// Codec lpc1's predictors in the metadata (SPEC.md §4.3, §6.6).
#include "codecs/codec_params.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"

namespace spikey::format::detail {

json lpc_predictor_to_json(const ChannelPredictor& p) {
  json j = {{"history_weights", p.history_weights}, {"lms_step", p.lms_step}};
  if (!p.sources.empty()) {
    j["source_channel"] = p.sources.front().channel;
    j["source_weights"] = p.sources.front().weights;
  }
  return j;
}

ChannelPredictor lpc_predictor_from_json(const json& j, const std::string& where) {
  ChannelPredictor p;
  p.history_weights = weights_from_json(field<json>(j, "history_weights", where), where);
  p.lms_step = static_cast<std::int32_t>(field<std::uint32_t>(j, "lms_step", where));
  if (j.contains("source_channel")) {
    PredictorSource source;
    source.channel = static_cast<std::int32_t>(field<std::uint32_t>(j, "source_channel", where));
    source.weights = weights_from_json(field<json>(j, "source_weights", where), where);
    p.sources.push_back(std::move(source));
  }
  return p;
}

// The bounds that make lpc1's int32 arithmetic safe (lpc_predictor.hpp) and keep source
// dependencies one level deep.
void validate_lpc_predictors(const Metadata& m) {
  if (m.codec.weight_shift < 1 || m.codec.weight_shift > static_cast<std::uint32_t>(kMaxLpcWeightShift))
    fail("metadata: codec.weight_shift out of range");
  for (std::size_t c = 0; c < m.channels.size(); ++c) {
    const ChannelPredictor& p = m.channels[c].predictor;
    const std::string where = "metadata: channel " + std::to_string(c) + " predictor";
    if (p.history_weights.size() > static_cast<std::size_t>(kMaxLpcOrder)) fail(where + " has too many history taps");
    if (!weights_in_range(p.history_weights)) fail(where + " has a weight out of range");
    if (p.lms_step < 0 || p.lms_step > kMaxLmsStep) fail(where + " has an LMS step out of range");
    if (p.sources.empty()) continue;
    const PredictorSource& source = p.sources.front();
    if (!weights_in_range(source.weights)) fail(where + " has a weight out of range");
    if (static_cast<std::size_t>(source.channel) >= m.channels.size() || static_cast<std::size_t>(source.channel) == c)
      fail(where + " names an invalid source channel");
    if (m.channels[static_cast<std::size_t>(source.channel)].predictor.source_channel() >= 0)
      fail(where + "'s source channel has a source itself");
    if (source.weights.size() % 2 != 1 || source.weights.size() > static_cast<std::size_t>(2 * kMaxSourceHalfWindow + 1))
      fail(where + " has a source window of invalid size");
  }
}

}  // namespace spikey::format::detail
