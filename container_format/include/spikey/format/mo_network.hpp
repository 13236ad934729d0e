// The network stage of codecs mo2 and cm2 (format version 7, SPEC.md §6.10.1): one small integer ReLU
// network per recording, shared by its channels, that corrects the linear MiddleOut prediction.
// A channel uses it when its predictor carries network gains (input gain g, output gain r).
//
// At time t, with v_0..v_7 = c[t-8 .. t-1] (the channel's clamped differences, oldest first) and
// v_8 = clamp(p_lin, -2047, 2047), p_lin the rounded linear prediction (lpc_prediction of the
// linear accumulator):
//   x_i  = clamp((v_i * g + 2^11) >> 12, -8191, 8191)            input, 1.0 = 256 (g ~ 2^20 / std)
//   h_j  = min(max(b1_j + sum_i W1_ji * x_i, 0) >> 8, 8191)        hidden ReLU, 1.0 = 256
//   o    = b2 + sum_j W2_j * h_j
//   y    = clamp((o + 2^7) >> 8, -32767, 32767)                     output, 1.0 = 256
//   corr = clamp(y * r, -2^29, 2^29)                                in accumulator units (2^S per code step)
// and the accumulator of the prediction becomes acc_lin + corr. Every shift is arithmetic.
//
// Overflow bounds (int32): |v * g| <= 2047 * 2^18 < 2^30; |b1 + W1.x| <= 2^20 + 9 * 4095 * 8191
// < 2^29; |o| <= 2^22 + 32 * 4095 * 8191 = 1,077,542,944 < 2^31 - 2^7; |y * r| <= 32767 * 2^15
// < 2^30; and acc_lin + corr <= 1,547,370,585 + 2^29 = 2,084,241,497 < 2^31 - 2^13 (mo_stream.hpp).
#pragma once

#include <cstdint>

#include "spikey/format/hd.hpp"

namespace spikey::format {

inline constexpr int kNetHistory = 8;
inline constexpr int kNetInputs = kNetHistory + 1;
inline constexpr int kMaxNetHidden = 32;
inline constexpr std::int32_t kMaxNetWeight = 4095;
inline constexpr std::int32_t kMaxNetHiddenBias = 1 << 20;
inline constexpr std::int32_t kMaxNetOutputBias = 1 << 22;
inline constexpr std::int32_t kMaxNetInputGain = 1 << 18;
inline constexpr std::int32_t kMaxNetOutputGain = 1 << 15;
inline constexpr std::int32_t kNetPredictionClamp = 2047;
inline constexpr std::int32_t kNetInputClamp = 8191;
inline constexpr std::int32_t kNetHiddenClamp = 8191;
inline constexpr std::int32_t kNetOutputClamp = 32767;
inline constexpr std::int32_t kMaxNetCorrection = 1 << 29;
inline constexpr int kNetInputShift = 12;
inline constexpr int kNetActivationShift = 8;

struct MoNetwork {
  int hidden = 0;                              // 1..kMaxNetHidden
  std::int32_t w1[kMaxNetHidden][kNetInputs] = {};
  std::int32_t b1[kMaxNetHidden] = {};
  std::int32_t w2[kMaxNetHidden] = {};
  std::int32_t b2 = 0;
};

SPIKEY_HD std::int32_t net_clamp(std::int32_t v, std::int32_t limit) { return v < -limit ? -limit : (v > limit ? limit : v); }

SPIKEY_HD std::int32_t net_input(std::int32_t v, std::int32_t gain) {
  return net_clamp((v * gain + (std::int32_t{1} << (kNetInputShift - 1))) >> kNetInputShift, kNetInputClamp);
}

SPIKEY_HD std::int32_t net_hidden(std::int32_t pre) {
  if (pre <= 0) return 0;
  const std::int32_t h = pre >> kNetActivationShift;
  return h > kNetHiddenClamp ? kNetHiddenClamp : h;
}

SPIKEY_HD std::int32_t net_correction(std::int32_t o, std::int32_t output_gain) {
  const std::int32_t y = net_clamp((o + (std::int32_t{1} << (kNetActivationShift - 1))) >> kNetActivationShift, kNetOutputClamp);
  return net_clamp(y * output_gain, kMaxNetCorrection);
}

// The network's raw output o at one time step. `recent` points at c[t-8] (8 values).
SPIKEY_HD std::int32_t mo_network_output(const MoNetwork& net, std::int32_t input_gain, const std::int32_t* recent, std::int32_t linear_prediction) {
  std::int32_t x[kNetInputs];
  for (int i = 0; i < kNetHistory; ++i) x[i] = net_input(recent[i], input_gain);
  x[kNetHistory] = net_input(net_clamp(linear_prediction, kNetPredictionClamp), input_gain);
  std::int32_t o = net.b2;
  for (int j = 0; j < net.hidden; ++j) {
    std::int32_t pre = net.b1[j];
    for (int i = 0; i < kNetInputs; ++i) pre += net.w1[j][i] * x[i];
    o += net.w2[j] * net_hidden(pre);
  }
  return o;
}

// The correction to add to the linear accumulator.
SPIKEY_HD std::int32_t mo_network_correction(const MoNetwork& net, std::int32_t input_gain, std::int32_t output_gain, const std::int32_t* recent,
                                             std::int32_t linear_prediction) {
  return net_correction(mo_network_output(net, input_gain, recent, linear_prediction), output_gain);
}

}  // namespace spikey::format
