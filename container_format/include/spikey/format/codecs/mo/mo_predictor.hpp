// Codec mo1 ("MiddleOut", SPEC.md §6.7): level default's predictor. Each channel's code
// difference is predicted from
//   - its own last N clamped differences c[t-N .. t-1]                       (N <= 16)
//   - L+1 causal dmey wavelet features of its history (wavelet_features.hpp) (L <= 4)
//   - windows c_k[t-W .. t+W] of up to 4 source channels decoded before it   (W <= 2)
// The sources are the channel's neighbours in the recording's topology that come earlier in
// the decoding order, so channels pass information along the topology (message passing)
// while every chunk still decodes alone. The rest is lpc1's: rounding and fold direction,
// per-chunk sign-sign LMS from the stored weights (the adapt flag), and the same Golomb-coded
// stream (lpc_stream.hpp).
//
// Taps, in this order: history (N), wavelet features d_1..d_L, a_L (L+1, when present),
// then each source's window (2W+1). Input for each tap x_i at time t, weights w_i:
//   acc = sum_i w_i * x_i, then as lpc1 (prediction, fold, LMS over all taps).
// Codecs mo2 and cm2 (version 7) add the network stage (mo_network.hpp): for channels with gains, the
// accumulator gets the network's correction before rounding; the LMS still adapts only the
// linear taps. A GRU projector (version 8) keeps its state after the wavelet features.
//
// Overflow bound (int32): |w| <= 16383; history and source inputs |c| <= 2047, wavelet
// features <= 4095: |acc| <= 16*16383*2047 + 5*16383*4095 + 20*16383*2047 = 1,547,370,585
// < 2^31 - 2^13; with the network's correction (|corr| <= 2^29) 2,084,241,497 < 2^31 - 2^13.
#pragma once

#include "spikey/format/hd.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/codecs/mo/mo_network.hpp"
#include "spikey/format/codecs/mo/wavelet_features.hpp"

namespace spikey::format {

inline constexpr int kMaxMoOrder = 16;
inline constexpr int kMaxMoSources = 4;
inline constexpr int kMaxMoHalfWindow = 2;
static_assert(kMaxMoOrder >= kNetHistory, "the history buffer's zero padding covers the network's inputs");
inline constexpr int kMaxMoTaps = kMaxMoOrder + kMaxWaveletLevels + 1 + kMaxMoSources * (2 * kMaxMoHalfWindow + 1);
// A stream's running state besides its buffers: the wavelet features (kMaxWaveletLevels + 1
// places), then the GRU projector's state (kMaxGruHidden).
inline constexpr int kMoStateSize = kMaxWaveletLevels + 1 + kMaxGruHidden;

struct MoModel {
  int order = 0;           // N
  int levels = 0;          // L; 0: no wavelet features
  int sources = 0;         // K
  int half_window = 2;     // W
  int weight_shift = 12;   // S
  std::int32_t lms_step = 0;  // effective step (0 when the chunk does not adapt)
  const MoNetwork* network = nullptr;  // the recording's network, when this channel uses it
  std::int32_t net_input_gain = 0;     // g and r of mo_network.hpp
  std::int32_t net_output_gain = 0;

  SPIKEY_HD bool uses_network() const { return network != nullptr && net_output_gain != 0; }

  SPIKEY_HD int wavelet_taps() const { return levels > 0 ? levels + 1 : 0; }
  SPIKEY_HD int source_taps() const { return 2 * half_window + 1; }
  SPIKEY_HD int taps() const { return order + wavelet_taps() + sources * source_taps(); }
};

// Buffers of one channel in one chunk of n samples:
//   history   kMaxMoOrder zeros, then c[1..n-1] at kMaxMoOrder + t
//   wavelet   levels approximation buffers of wavelet_buffer_size(n), at stride wavelet_buffer_size(n)
//   features  kMoStateSize values: the wavelet features after the latest sample (levels + 1),
//             then the GRU state
//   sources   per source, a filled lpc source buffer (fill_source_buffer) of the source's codes
SPIKEY_HD std::uint32_t mo_history_buffer_size(std::uint32_t n) { return kMaxMoOrder + n; }

// The inputs of every tap at time t into x[0..taps).
SPIKEY_HD void mo_inputs(const MoModel& m, std::uint32_t t, const std::int32_t* history, const std::int32_t* features,
                         const std::int32_t* const* sources, std::int32_t* x) {
  int i = 0;
  const std::int32_t* h = history + kMaxMoOrder + t - static_cast<std::uint32_t>(m.order);
  for (int k = 0; k < m.order; ++k) x[i++] = h[k];
  for (int k = 0; k < m.wavelet_taps(); ++k) x[i++] = features[k];
  for (int s = 0; s < m.sources; ++s) {
    const std::int32_t* w = sources[s] + kMaxSourceHalfWindow + t - static_cast<std::uint32_t>(m.half_window);
    for (int k = 0; k < m.source_taps(); ++k) x[i++] = w[k];
  }
}

SPIKEY_HD void mo_clear(const MoModel& m, std::uint32_t n, std::int32_t* history, std::int32_t* wavelet, std::int32_t* features) {
  for (std::uint32_t i = 0; i < mo_history_buffer_size(n); ++i) history[i] = 0;
  for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(m.levels) * wavelet_buffer_size(n); ++i) wavelet[i] = 0;
  for (int i = 0; i < kMoStateSize; ++i) features[i] = 0;
}

// After d[t] is known: history, wavelet state and features move on by one sample.
SPIKEY_HD void mo_advance(const MoModel& m, std::uint32_t n, std::uint32_t t, std::int32_t d, std::int32_t* history, std::int32_t* wavelet,
                          std::int32_t* features) {
  const std::int32_t c = clamp_history(d);
  history[kMaxMoOrder + t] = c;
  if (m.levels > 0) wavelet_step(m.levels, wavelet, wavelet_buffer_size(n), t, c, features);
}

SPIKEY_HD void mo_lms_update(const MoModel& m, std::int32_t* weights, const std::int32_t* x, std::int32_t residual) {
  const std::int32_t step = m.lms_step * sign_of(residual);
  if (step == 0) return;
  for (int i = 0; i < m.taps(); ++i) {
    const std::int32_t w = weights[i] + step * sign_of(x[i]);
    weights[i] = w > kMaxLpcWeight ? kMaxLpcWeight : (w < -kMaxLpcWeight ? -kMaxLpcWeight : w);
  }
}

// The prediction accumulator at time t (inputs into x, for the LMS update that follows).
SPIKEY_HD std::int32_t mo_accumulate(const MoModel& m, std::uint32_t t, const std::int32_t* weights, const std::int32_t* history,
                                     std::int32_t* features, const std::int32_t* const* sources, std::int32_t* x) {
  mo_inputs(m, t, history, features, sources, x);
  std::int32_t acc = 0;
  for (int i = 0; i < m.taps(); ++i) acc += weights[i] * x[i];
  if (m.uses_network())
    acc += mo_network_correction(*m.network, m.net_input_gain, m.net_output_gain, history + kMaxMoOrder + t - kNetHistory,
                                 lpc_prediction(acc, m.weight_shift), features + kMaxWaveletLevels + 1);
  return acc;
}

// Plain residuals e[t] = d[t] - p of t = 1..n-1 into residuals[1..n-1] (codec cm1, which
// codes them against the predicted code instead of folding them).
SPIKEY_HD void mo_residuals(const MoModel& m, const std::int32_t* codes, std::uint32_t n, std::int32_t* weights, std::int32_t* history,
                            std::int32_t* wavelet, std::int32_t* features, const std::int32_t* const* sources, std::int32_t* residuals) {
  mo_clear(m, n, history, wavelet, features);
  std::int32_t x[kMaxMoTaps];
  for (std::uint32_t t = 1; t < n; ++t) {
    const std::int32_t p = lpc_prediction(mo_accumulate(m, t, weights, history, features, sources, x), m.weight_shift);
    const std::int32_t d = codes[t] - codes[t - 1];
    residuals[t] = d - p;
    mo_lms_update(m, weights, x, residuals[t]);
    mo_advance(m, n, t, d, history, wavelet, features);
  }
}

// What the encoders of codecs coding z (mt, cm) compare when choosing between fixed and
// adapting weights: the sum of |z[t]|, t = 1..n-1. On every set in ../shared/data it picks better
// for the context coder than the sum of log2(1 + |z|), and loses at most 0.01% against coding
// both ways and keeping the smaller.
SPIKEY_HD std::uint64_t mo_residual_cost(const std::int32_t* z, std::uint32_t n) {
  std::uint64_t sum = 0;
  for (std::uint32_t t = 1; t < n; ++t) sum += static_cast<std::uint64_t>(z[t] < 0 ? -std::int64_t{z[t]} : std::int64_t{z[t]});
  return sum;
}

// Encoder's prediction stage (scalar reference): folded residuals of t = 1..n-1.
SPIKEY_HD void mo_fold_residuals(const MoModel& m, const std::int32_t* codes, std::uint32_t n, std::int32_t* weights, std::int32_t* history,
                                 std::int32_t* wavelet, std::int32_t* features, const std::int32_t* const* sources, std::uint32_t* folded) {
  mo_clear(m, n, history, wavelet, features);
  std::int32_t x[kMaxMoTaps];
  for (std::uint32_t t = 1; t < n; ++t) {
    const std::int32_t acc = mo_accumulate(m, t, weights, history, features, sources, x);
    const std::int32_t p = lpc_prediction(acc, m.weight_shift);
    const std::int32_t d = codes[t] - codes[t - 1];
    const std::int32_t e = d - p;
    folded[t - 1] = zigzag_encode(lpc_flip(acc, p, m.weight_shift) ? -e : e);
    mo_lms_update(m, weights, x, e);
    mo_advance(m, n, t, d, history, wavelet, features);
  }
}

// Decoder's prediction stage (scalar reference): codes[0..n-1] from the warm-up code and the
// folded residuals.
SPIKEY_HD void mo_reconstruct(const MoModel& m, std::int32_t first_code, const std::uint32_t* folded, std::uint32_t n, std::int32_t* weights,
                              std::int32_t* history, std::int32_t* wavelet, std::int32_t* features, const std::int32_t* const* sources,
                              std::int32_t* codes) {
  mo_clear(m, n, history, wavelet, features);
  codes[0] = first_code;
  std::int32_t x[kMaxMoTaps];
  for (std::uint32_t t = 1; t < n; ++t) {
    const std::int32_t acc = mo_accumulate(m, t, weights, history, features, sources, x);
    const std::int32_t p = lpc_prediction(acc, m.weight_shift);
    const std::int32_t unfolded = zigzag_decode(folded[t - 1]);
    const auto e = static_cast<std::int32_t>(lpc_flip(acc, p, m.weight_shift) ? 0u - static_cast<std::uint32_t>(unfolded)
                                                                              : static_cast<std::uint32_t>(unfolded));
    const auto d = static_cast<std::int32_t>(static_cast<std::uint32_t>(e) + static_cast<std::uint32_t>(p));
    codes[t] = static_cast<std::int32_t>(static_cast<std::uint32_t>(codes[t - 1]) + static_cast<std::uint32_t>(d));
    mo_lms_update(m, weights, x, e);
    mo_advance(m, n, t, d, history, wavelet, features);
  }
}

}  // namespace spikey::format
