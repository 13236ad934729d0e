// The MiddleOut codecs' parameters, predictors and network stage in the metadata (SPEC.md
// §4.3, §6.7-§6.8), and the decoding order their sources define.
#include <algorithm>
#include <functional>

#include "codecs/codec_params.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/codecs/mo/mo_predictor.hpp"

namespace spikey::format {

std::vector<std::uint32_t> mo_decoding_order(const Metadata& m) {
  // Kahn's algorithm, lowest channel first among those ready: every channel after its sources.
  const std::size_t n = m.channels.size();
  std::vector<std::uint32_t> missing(n, 0);
  std::vector<std::vector<std::uint32_t>> dependents(n);
  for (std::size_t c = 0; c < n; ++c) {
    for (const auto& s : m.channels[c].predictor.sources) {
      if (s.channel < 0 || static_cast<std::size_t>(s.channel) >= n) return {};
      ++missing[c];
      dependents[static_cast<std::size_t>(s.channel)].push_back(static_cast<std::uint32_t>(c));
    }
  }
  std::vector<std::uint32_t> order;
  std::vector<std::uint32_t> ready;
  for (std::size_t c = 0; c < n; ++c)
    if (missing[c] == 0) ready.push_back(static_cast<std::uint32_t>(c));
  std::make_heap(ready.begin(), ready.end(), std::greater<>());
  while (!ready.empty()) {
    std::pop_heap(ready.begin(), ready.end(), std::greater<>());
    const std::uint32_t c = ready.back();
    ready.pop_back();
    order.push_back(c);
    for (const auto d : dependents[c]) {
      if (--missing[d] == 0) {
        ready.push_back(d);
        std::push_heap(ready.begin(), ready.end(), std::greater<>());
      }
    }
  }
  return order;  // shorter than n when there is a cycle
}


namespace detail {

void middle_out_params_to_json(const CodecParams& codec, json& j) {
  j["source_half_window"] = codec.source_half_window;
  j["wavelet_levels"] = codec.wavelet_levels;
}

void middle_out_params_from_json(const json& j, CodecParams& codec) {
  codec.source_half_window = field<std::uint32_t>(j, "source_half_window", "codec");
  codec.wavelet_levels = field<std::uint32_t>(j, "wavelet_levels", "codec");
}

json mo_predictor_to_json(const ChannelPredictor& p) {
  json sources = json::array();
  for (const auto& s : p.sources) sources.push_back({{"channel", s.channel}, {"weights", s.weights}});
  json j = {{"history_weights", p.history_weights}, {"wavelet_weights", p.wavelet_weights}, {"sources", sources}, {"lms_step", p.lms_step}};
  if (p.uses_network()) j["network_gains"] = {p.network_input_gain, p.network_output_gain};
  return j;
}

ChannelPredictor mo_predictor_from_json(const json& j, const std::string& where) {
  ChannelPredictor p;
  p.history_weights = weights_from_json(field<json>(j, "history_weights", where), where);
  p.wavelet_weights = weights_from_json(field<json>(j, "wavelet_weights", where), where);
  p.lms_step = static_cast<std::int32_t>(field<std::uint32_t>(j, "lms_step", where));
  const json sources = field<json>(j, "sources", where);
  if (!sources.is_array()) fail("metadata: " + where + " sources is not an array");
  for (const auto& s : sources) {
    PredictorSource source;
    source.channel = static_cast<std::int32_t>(field<std::uint32_t>(s, "channel", where + " source"));
    source.weights = weights_from_json(field<json>(s, "weights", where + " source"), where);
    p.sources.push_back(std::move(source));
  }
  if (j.contains("network_gains")) {
    const json& g = j["network_gains"];
    if (!g.is_array() || g.size() != 2 || !g[0].is_number_integer() || !g[1].is_number_integer() || g[0].get<std::int64_t>() < 1 ||
        g[0].get<std::int64_t>() > kMaxNetInputGain || g[1].get<std::int64_t>() < 1 || g[1].get<std::int64_t>() > kMaxNetOutputGain)
      fail("metadata: " + where + " network_gains is not [input gain 1.." + std::to_string(kMaxNetInputGain) + ", output gain 1.." +
           std::to_string(kMaxNetOutputGain) + "]");
    p.network_input_gain = static_cast<std::int32_t>(g[0].get<std::int64_t>());
    p.network_output_gain = static_cast<std::int32_t>(g[1].get<std::int64_t>());
  }
  return p;
}

// mo1: the bounds of mo_stream.hpp, and sources that form no cycle, so that a decoding order exists.
void validate_mo_predictors(const Metadata& m) {
  if (m.codec.weight_shift < 1 || m.codec.weight_shift > static_cast<std::uint32_t>(kMaxLpcWeightShift))
    fail("metadata: codec.weight_shift out of range");
  if (m.codec.source_half_window > static_cast<std::uint32_t>(kMaxMoHalfWindow)) fail("metadata: codec.source_half_window out of range");
  if (m.codec.wavelet_levels < 1 || m.codec.wavelet_levels > static_cast<std::uint32_t>(kMaxWaveletLevels))
    fail("metadata: codec.wavelet_levels out of range");
  for (std::size_t c = 0; c < m.channels.size(); ++c) {
    const ChannelPredictor& p = m.channels[c].predictor;
    const std::string where = "metadata: channel " + std::to_string(c) + " predictor";
    if (p.history_weights.size() > static_cast<std::size_t>(kMaxMoOrder)) fail(where + " has too many history taps");
    if (!p.wavelet_weights.empty() && p.wavelet_weights.size() != m.codec.wavelet_levels + 1) fail(where + " has the wrong number of wavelet weights");
    if (p.sources.size() > static_cast<std::size_t>(kMaxMoSources)) fail(where + " has too many sources");
    if (!weights_in_range(p.history_weights) || !weights_in_range(p.wavelet_weights)) fail(where + " has a weight out of range");
    if (p.lms_step < 0 || p.lms_step > kMaxLmsStep) fail(where + " has an LMS step out of range");
    if (p.uses_network() && !m.codec.network) fail(where + " has network gains but the codec has no network");
    for (std::size_t i = 0; i < p.sources.size(); ++i) {
      const PredictorSource& s = p.sources[i];
      if (s.channel < 0 || static_cast<std::size_t>(s.channel) >= m.channels.size() || static_cast<std::size_t>(s.channel) == c)
        fail(where + " names an invalid source channel");
      for (std::size_t j = 0; j < i; ++j)
        if (p.sources[j].channel == s.channel) fail(where + " names a source twice");
      if (s.weights.size() != 2 * m.codec.source_half_window + 1 || !weights_in_range(s.weights))
        fail(where + " has source weights of the wrong size or range");
    }
  }
  if (mo_decoding_order(m).size() != m.channels.size()) fail("metadata: the channels' sources form a cycle");
}

// The network stage (§6.8.1): weights as flat integer arrays, W1 row by row. The GRU projector
// of mo3/cm3 (§6.8.2) has gate arrays instead of W1 and b1, gates in the order z, r, n.
json network_to_json(const MoNetwork& net) {
  // Rows beyond the arrays are never read: a network larger than its projector allows is
  // written with fewer values than `hidden` says, which parsing rejects.
  const bool gru = net.projector == NetProjector::kGru;
  const int rows = std::clamp(net.hidden, 0, gru ? kMaxGruHidden : kMaxNetHidden);
  json w2 = json::array();
  for (int j = 0; j < rows; ++j) w2.push_back(net.w2[j]);
  if (gru) {
    json gx = json::array(), gh = json::array(), gb = json::array();
    for (int g = 0; g < kGruGates; ++g)
      for (int k = 0; k < rows; ++k) {
        for (int i = 0; i < kNetInputs; ++i) gx.push_back(net.gx[g][k][i]);
        for (int i = 0; i < rows; ++i) gh.push_back(net.gh[g][k][i]);
        gb.push_back(net.gb[g][k]);
      }
    return {{"hidden", static_cast<std::uint32_t>(std::max(net.hidden, 0))}, {"gx", gx}, {"gh", gh}, {"gb", gb}, {"w2", w2}, {"b2", net.b2}};
  }
  json w1 = json::array(), b1 = json::array();
  for (int j = 0; j < rows; ++j) {
    for (int i = 0; i < kNetInputs; ++i) w1.push_back(net.w1[j][i]);
    b1.push_back(net.b1[j]);
  }
  return {{"hidden", static_cast<std::uint32_t>(std::max(net.hidden, 0))}, {"w1", w1}, {"b1", b1}, {"w2", w2}, {"b2", net.b2}};
}

MoNetwork network_from_json(const json& j, bool gru) {
  const std::string where = "codec.network";
  if (!j.is_object()) fail("metadata: " + where + " is not an object");
  MoNetwork net;
  net.projector = gru ? NetProjector::kGru : NetProjector::kRelu;
  const int max_hidden = gru ? kMaxGruHidden : kMaxNetHidden;
  const auto hidden = field<std::uint32_t>(j, "hidden", where);
  if (hidden < 1 || hidden > static_cast<std::uint32_t>(max_hidden)) fail("metadata: " + where + ".hidden must be 1.." + std::to_string(max_hidden));
  net.hidden = static_cast<int>(hidden);
  const auto integers = [&](const char* key, std::size_t count, std::int64_t limit) {
    const json a = field<json>(j, key, where);
    if (!a.is_array() || a.size() != count) fail("metadata: " + where + "." + key + " must hold " + std::to_string(count) + " integers");
    std::vector<std::int32_t> out;
    for (const auto& v : a) {
      if (!v.is_number_integer() || v.get<std::int64_t>() < -limit || v.get<std::int64_t>() > limit)
        fail("metadata: " + where + "." + key + " has a value that is not an integer in -" + std::to_string(limit) + ".." + std::to_string(limit));
      out.push_back(static_cast<std::int32_t>(v.get<std::int64_t>()));
    }
    return out;
  };
  const auto w2 = integers("w2", hidden, kMaxNetWeight);
  const json b2 = field<json>(j, "b2", where);
  if (!b2.is_number_integer() || b2.get<std::int64_t>() < -kMaxNetOutputBias || b2.get<std::int64_t>() > kMaxNetOutputBias)
    fail("metadata: " + where + ".b2 is not an integer in range");
  net.b2 = static_cast<std::int32_t>(b2.get<std::int64_t>());
  for (int h = 0; h < net.hidden; ++h) net.w2[h] = w2[static_cast<std::size_t>(h)];
  if (gru) {
    const std::size_t rows = kGruGates * std::size_t{hidden};
    const auto gx = integers("gx", rows * kNetInputs, kMaxNetWeight);
    const auto gh = integers("gh", rows * hidden, kMaxNetWeight);
    const auto gb = integers("gb", rows, kMaxGruBias);
    for (std::size_t row = 0; row < rows; ++row) {
      const std::size_t g = row / hidden, k = row % hidden;
      for (std::size_t i = 0; i < kNetInputs; ++i) net.gx[g][k][i] = gx[row * kNetInputs + i];
      for (std::size_t i = 0; i < hidden; ++i) net.gh[g][k][i] = gh[row * hidden + i];
      net.gb[g][k] = gb[row];
    }
    return net;
  }
  const auto w1 = integers("w1", hidden * static_cast<std::size_t>(kNetInputs), kMaxNetWeight);
  const auto b1 = integers("b1", hidden, kMaxNetHiddenBias);
  for (int h = 0; h < net.hidden; ++h) {
    for (int i = 0; i < kNetInputs; ++i) net.w1[h][i] = w1[static_cast<std::size_t>(h * kNetInputs + i)];
    net.b1[h] = b1[static_cast<std::size_t>(h)];
  }
  return net;
}

}  // namespace detail

}  // namespace spikey::format
