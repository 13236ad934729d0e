// The prediction of codec lpc1 (SPEC.md §6.6): each channel's code differences from its own
// recent differences and, optionally, a window of one other channel's differences around the
// same time, with weights stored in the archive and optionally adapted by a sign-sign LMS within
// each chunk. The residuals go into a Golomb stream (codecs/common/golomb_stream.hpp).
//
// Notation for one channel in one chunk of n samples with codes u[0..n-1]:
//   d[t] = u[t] - u[t-1] for 1 <= t < n, and d[t] = 0 for t <= 0 or t >= n
//   c[t] = clamp(d[t], -kLpcHistoryClamp, kLpcHistoryClamp)
// The prediction of d[t], t >= 1, from N history taps and (for a source channel s with its
// own clamped differences c_s) 2W+1 source taps:
//   acc = sum_{i=0}^{N-1} w[i] * c[t-N+i]  +  sum_{j=0}^{2W} v[j] * c_s[t-W+j]
//   p   = (acc + 2^(S-1)) >> S                      (floor: rounds to nearest, halves up)
//   e   = d[t] - p
//   folded = zigzag(acc > p * 2^S ? -e : e)         (the likelier sign folds first)
// then, when the stream's adapt flag is set and the LMS step mu > 0, every tap x with weight
// w: w += mu * sign(e) * sign(x), clamped to +-kMaxLpcWeight. Weights start from the stored
// ones in every chunk.
//
// Overflow bound (int32 everywhere): at most kMaxLpcTaps = 41 taps, |w| <= 16383 and
// |c| <= 2047, so |acc| <= 41 * 16383 * 2047 = 1,374,976,041 < 2^31 - 2^13.
#pragma once

#include "spikey/format/codecs/common/zigzag.hpp"
#include "spikey/format/hd.hpp"

namespace spikey::format {

inline constexpr int kMaxLpcOrder = 32;
inline constexpr int kMaxSourceHalfWindow = 4;
inline constexpr int kMaxLpcTaps = kMaxLpcOrder + 2 * kMaxSourceHalfWindow + 1;
inline constexpr std::int32_t kMaxLpcWeight = (1 << 14) - 1;
inline constexpr std::int32_t kLpcHistoryClamp = 2047;
inline constexpr int kMaxLpcWeightShift = 14;
inline constexpr std::int32_t kMaxLmsStep = 64;

// One channel's predictor, as the stream coder sees it. Taps are ordered oldest first over
// the contiguous windows c[t-N .. t-1] and c_s[t-W .. t+W].
struct LpcModel {
  int order = 0;               // N, 0..kMaxLpcOrder
  int source_half_window = -1; // W, or -1 without a source channel
  int weight_shift = 12;       // S, 1..kMaxLpcWeightShift
  std::int32_t lms_step = 0;   // mu, 0..kMaxLmsStep (0: fixed weights)

  SPIKEY_HD int source_taps() const { return source_half_window < 0 ? 0 : 2 * source_half_window + 1; }
  SPIKEY_HD int taps() const { return order + source_taps(); }
};

SPIKEY_HD std::int32_t clamp_history(std::int32_t d) {
  return d < -kLpcHistoryClamp ? -kLpcHistoryClamp : (d > kLpcHistoryClamp ? kLpcHistoryClamp : d);
}

SPIKEY_HD std::int32_t sign_of(std::int32_t x) { return (x > 0) - (x < 0); }

SPIKEY_HD std::int32_t lpc_prediction(std::int32_t acc, int shift) {
  return (acc + (std::int32_t{1} << (shift - 1))) >> shift;  // arithmetic shift
}

// Whether the residual's sign is flipped before folding: the prediction was rounded down.
SPIKEY_HD bool lpc_flip(std::int32_t acc, std::int32_t prediction, int shift) {
  return acc > prediction * (std::int32_t{1} << shift);
}

// The prediction accumulator at one time step. `history` points at c[t-N], `source` at
// c_s[t-W] (unused without a source), `weights` holds model.taps() weights.
SPIKEY_HD std::int32_t lpc_accumulate(const LpcModel& model, const std::int32_t* weights, const std::int32_t* history,
                                      const std::int32_t* source) {
  std::int32_t acc = 0;
  for (int i = 0; i < model.order; ++i) acc += weights[i] * history[i];
  const int source_taps = model.source_taps();
  for (int j = 0; j < source_taps; ++j) acc += weights[model.order + j] * source[j];
  return acc;
}

SPIKEY_HD void lms_update(const LpcModel& model, std::int32_t* weights, const std::int32_t* history, const std::int32_t* source,
                          std::int32_t residual) {
  const std::int32_t step = model.lms_step * sign_of(residual);
  if (step == 0) return;
  for (int i = 0; i < model.order; ++i) {
    const std::int32_t w = weights[i] + step * sign_of(history[i]);
    weights[i] = w > kMaxLpcWeight ? kMaxLpcWeight : (w < -kMaxLpcWeight ? -kMaxLpcWeight : w);
  }
  const int source_taps = model.source_taps();
  for (int j = 0; j < source_taps; ++j) {
    const std::int32_t w = weights[model.order + j] + step * sign_of(source[j]);
    weights[model.order + j] = w > kMaxLpcWeight ? kMaxLpcWeight : (w < -kMaxLpcWeight ? -kMaxLpcWeight : w);
  }
}

// Buffer layouts shared by encoder and decoder:
//   history buffer: kMaxLpcOrder zeros, then c[1..n-1] at index kMaxLpcOrder + t (c[0] = 0)
//   source buffer:  kMaxSourceHalfWindow zeros, then c_s[0..n-1] at kMaxSourceHalfWindow + t,
//                   then kMaxSourceHalfWindow zeros (c_s is 0 outside the source's samples)
SPIKEY_HD std::uint32_t lpc_history_buffer_size(std::uint32_t n) { return kMaxLpcOrder + n; }
SPIKEY_HD std::uint32_t source_buffer_size(std::uint32_t n) { return 2 * kMaxSourceHalfWindow + n; }

// Fills the source buffer from the source channel's codes (n_source of them) for a chunk
// in which the predicted channel has n samples.
SPIKEY_HD void fill_source_buffer(const std::int32_t* source_codes, std::uint32_t n_source, std::uint32_t n,
                                      std::int32_t* buffer) {
  // c_s[t] for t in [1, end), zeros elsewhere (one loop bound, so that it vectorizes)
  const std::uint32_t end = n_source < n + kMaxSourceHalfWindow ? n_source : n + kMaxSourceHalfWindow;
  const std::uint32_t filled_to = kMaxSourceHalfWindow + (end > 1 ? end : 1);
  for (std::uint32_t i = 0; i <= kMaxSourceHalfWindow; ++i) buffer[i] = 0;
  std::int32_t* differences = buffer + kMaxSourceHalfWindow;  // 64-bit indices: a 32-bit one could wrap, which keeps the loop scalar
  for (std::size_t t = 1; t < end; ++t)
    differences[t] = clamp_history(static_cast<std::int32_t>(static_cast<std::uint32_t>(source_codes[t]) - static_cast<std::uint32_t>(source_codes[t - 1])));
  for (std::uint32_t i = filled_to; i < source_buffer_size(n); ++i) buffer[i] = 0;
}

// Prediction stage of the encoder: folded residuals of t = 1..n-1 into folded[0..n-2].
// `model.lms_step` is the effective step: the stored step when the adapt flag is set, else 0.
// `weights` (model.taps() values) starts as the stored weights and is adapted in place;
// `history` is a buffer of lpc_history_buffer_size(n); `source` a filled source buffer or null.
SPIKEY_HD void lpc_fold_residuals(const LpcModel& model, const std::int32_t* codes, std::uint32_t n, std::int32_t* weights,
                                  std::int32_t* history, const std::int32_t* source, std::uint32_t* folded) {
  for (std::uint32_t i = 0; i < lpc_history_buffer_size(n); ++i) history[i] = 0;
  for (std::uint32_t t = 1; t < n; ++t) {
    const std::int32_t* h = history + kMaxLpcOrder + t - model.order;
    const std::int32_t* s = source != nullptr ? source + t : nullptr;  // c_s[t - W] sits at index kMaxSourceHalfWindow - W + t
    const std::int32_t* sw = s != nullptr ? s + (kMaxSourceHalfWindow - model.source_half_window) : nullptr;
    const std::int32_t acc = lpc_accumulate(model, weights, h, sw);
    const std::int32_t p = lpc_prediction(acc, model.weight_shift);
    const std::int32_t d = codes[t] - codes[t - 1];
    const std::int32_t e = d - p;
    folded[t - 1] = zigzag_encode(lpc_flip(acc, p, model.weight_shift) ? -e : e);
    lms_update(model, weights, h, sw, e);
    history[kMaxLpcOrder + t] = clamp_history(d);
  }
}

// Prediction stage of the decoder (scalar reference): rebuilds codes[0..n-1] from the
// warm-up code and the folded residuals. Buffers as in lpc_fold_residuals.
SPIKEY_HD void lpc_reconstruct(const LpcModel& model, std::int32_t first_code, const std::uint32_t* folded, std::uint32_t n,
                               std::int32_t* weights, std::int32_t* history, const std::int32_t* source, std::int32_t* codes) {
  for (std::uint32_t i = 0; i < lpc_history_buffer_size(n); ++i) history[i] = 0;
  codes[0] = first_code;
  for (std::uint32_t t = 1; t < n; ++t) {
    const std::int32_t* h = history + kMaxLpcOrder + t - model.order;
    const std::int32_t* sw = source != nullptr ? source + t + (kMaxSourceHalfWindow - model.source_half_window) : nullptr;
    const std::int32_t acc = lpc_accumulate(model, weights, h, sw);
    const std::int32_t p = lpc_prediction(acc, model.weight_shift);
    const std::int32_t unfolded = zigzag_decode(folded[t - 1]);
    // Wrapping arithmetic: corrupt residuals must not be undefined behaviour.
    const auto e = static_cast<std::int32_t>(lpc_flip(acc, p, model.weight_shift) ? 0u - static_cast<std::uint32_t>(unfolded)
                                                                                    : static_cast<std::uint32_t>(unfolded));
    const auto d = static_cast<std::int32_t>(static_cast<std::uint32_t>(e) + static_cast<std::uint32_t>(p));
    codes[t] = static_cast<std::int32_t>(static_cast<std::uint32_t>(codes[t - 1]) + static_cast<std::uint32_t>(d));
    lms_update(model, weights, h, sw, e);
    history[kMaxLpcOrder + t] = clamp_history(d);
  }
}

}  // namespace spikey::format
