// Causal discrete-Meyer wavelet features of a channel's clamped code differences (codec mo1,
// SPEC.md §6.7): an undecimated ("a trous") dmey filter bank run along the chunk, so that
// after each sample the details of levels 1..L and the level-L approximation summarise the
// history at several time scales.
//
// Filters: PyWavelets' `dmey` decomposition filters divided by sqrt(2) (unit DC gain for the
// low-pass), times 2^14, rounded; the coefficients that round to zero at both ends are
// dropped, which leaves the 34 taps below (generated with pywt 1.x: Wavelet('dmey').dec_lo/dec_hi).
//
// For sample time tau, with a_0[tau] = c[tau] and a_l = 0 before the chunk (tau < 0):
//   D = 2^(l-1)
//   d_l[tau] = clamp((sum_j hi[j] * a_{l-1}[tau - j*D] + 2^13) >> 14)
//   a_l[tau] = clamp((sum_j lo[j] * a_{l-1}[tau - j*D] + 2^13) >> 14)
// clamp to +-kWaveletClamp. Bound: sum|lo| = sum|hi| = 27744 < 2^15 and |a| <= 4095 < 2^12,
// so each sum stays below 2^27.
#pragma once

#include "spikey/format/hd.hpp"

namespace spikey::format {

inline constexpr int kDmeyTaps = 34;
inline constexpr int kDmeyShift = 14;
inline constexpr int kMaxWaveletLevels = 4;
inline constexpr std::int32_t kWaveletClamp = 4095;

// The filter coefficients (static local tables: one copy, which device code reads too; a plain
// local array is rebuilt on the stack at every call).
SPIKEY_HD std::int32_t dmey_low(int j) {
  static constexpr std::int32_t kLow[kDmeyTaps] = {0,    1,   -7,    -31,  26,   70,   -74,  -128,  177,  202, -372, -282,
                                                   738,  355, -1539, -406, 5151, 8626, 5151, -406,  -1539, 355, 738,  -282,
                                                   -372, 202, 177,   -128, -74,  70,   26,   -31,   -7,    1};
  return kLow[j];
}

SPIKEY_HD std::int32_t dmey_high(int j) {
  static constexpr std::int32_t kHigh[kDmeyTaps] = {-1,   -7,    31,  26,   -70,   -74,  128, 177,   -202, -372, 282,  738,
                                                    -355, -1539, 406, 5151, -8626, 5151, 406, -1539, -355, 738,  282,  -372,
                                                    -202, 177,   128, -74,  -70,   26,   31,  -7,    -1,   0};
  return kHigh[j];
}

// Zero samples kept in front of each approximation buffer: the deepest level reaches back
// (kDmeyTaps - 1) * 2^(kMaxWaveletLevels - 1) samples.
inline constexpr std::uint32_t kWaveletPad = (kDmeyTaps - 1) << (kMaxWaveletLevels - 1);

SPIKEY_HD std::int32_t clamp_wavelet(std::int32_t v) {
  return v < -kWaveletClamp ? -kWaveletClamp : (v > kWaveletClamp ? kWaveletClamp : v);
}

// Size of the approximation buffer of one level for a chunk of n samples.
SPIKEY_HD std::uint32_t wavelet_buffer_size(std::uint32_t n) { return kWaveletPad + n; }

// One step at time tau: stores a_0[tau] = value and a_1..a_{levels-1}[tau] into
// `approximations` (levels buffers of wavelet_buffer_size(n) values, zero in front of the
// chunk, each at stride `stride`) and writes the features d_1..d_levels, a_levels to
// features[0..levels].
SPIKEY_HD void wavelet_step(int levels, std::int32_t* approximations, std::uint32_t stride, std::uint32_t tau, std::int32_t value,
                            std::int32_t* features) {
  const std::uint32_t at = kWaveletPad + tau;
  approximations[at] = value;
  for (int l = 1; l <= levels; ++l) {
    const std::int32_t* a = approximations + static_cast<std::uint32_t>(l - 1) * stride;
    const std::uint32_t dilation = 1u << (l - 1);
    std::int32_t low = 0, high = 0;
    for (int j = 0; j < kDmeyTaps; ++j) {
      const std::int32_t x = a[at - static_cast<std::uint32_t>(j) * dilation];
      low += dmey_low(j) * x;
      high += dmey_high(j) * x;
    }
    const std::int32_t half = std::int32_t{1} << (kDmeyShift - 1);
    features[l - 1] = clamp_wavelet((high + half) >> kDmeyShift);
    const std::int32_t approximation = clamp_wavelet((low + half) >> kDmeyShift);
    if (l < levels) approximations[static_cast<std::uint32_t>(l) * stride + at] = approximation;
    else features[levels] = approximation;
  }
}

}  // namespace spikey::format
