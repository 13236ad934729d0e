// The network stage of codecs mo2 and cm2 (format version 7, SPEC.md §6.8.1): one small integer
// network per recording, shared by its channels, that corrects the linear MiddleOut prediction.
// A channel uses it when its predictor carries network gains (input gain g, output gain r).
// The projector is a ReLU layer (version 7) or, from version 8 (§6.8.2), a GRU cell whose
// state runs through the chunk (mo_gru_output below).
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

// GRU projector (§6.8.2): state h of `hidden` <= 16 values, 1.0 = 256, |h| <= 256.
inline constexpr int kMaxGruHidden = 16;
inline constexpr int kGruGates = 3;  // update z, reset r, candidate n
inline constexpr std::int32_t kMaxGruBias = 1 << 20;
inline constexpr int kGruTableShift = 11;        // pre-activation (1.0 = 2^16) to table index: 1/32 steps
inline constexpr int kGruTableHalf = 256;        // index -256..255: the real range [-8, 8)
inline constexpr std::int32_t kGruOne = 256;

enum class NetProjector : int { kRelu = 0, kGru = 1 };

struct MoNetwork {
  NetProjector projector = NetProjector::kRelu;
  int hidden = 0;                              // 1..kMaxNetHidden (ReLU), 1..kMaxGruHidden (GRU)
  std::int32_t w1[kMaxNetHidden][kNetInputs] = {};  // ReLU layer
  std::int32_t b1[kMaxNetHidden] = {};
  std::int32_t gx[kGruGates][kMaxGruHidden][kNetInputs] = {};     // GRU: input weights of z, r, n
  std::int32_t gh[kGruGates][kMaxGruHidden][kMaxGruHidden] = {};  // GRU: state weights of z, r, n
  std::int32_t gb[kGruGates][kMaxGruHidden] = {};                 // GRU: biases of z, r, n
  std::int32_t w2[kMaxNetHidden] = {};         // readout of h (both projectors)
  std::int32_t b2 = 0;
};

// The gate tables at index i + 256, i = -256..255: round(256 * sigmoid((i + 0.5) / 32)) and
// round(256 * tanh((i + 0.5) / 32)); no value is within 0.001 of a rounding tie, and a test
// recomputes them. (Static local tables: one copy, which device code reads too.)
SPIKEY_HD std::int32_t gru_sigmoid(int index) {
  static constexpr std::int16_t kTable[2 * kGruTableHalf] = {
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
      1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
      1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
      2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3,
      3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5,
      5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7,
      8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12,
      12, 13, 13, 13, 14, 14, 15, 15, 16, 16, 17, 17, 18, 18, 19, 19,
      20, 20, 21, 21, 22, 23, 23, 24, 25, 25, 26, 27, 28, 28, 29, 30,
      31, 32, 33, 34, 35, 35, 36, 37, 38, 39, 40, 42, 43, 44, 45, 46,
      47, 49, 50, 51, 52, 54, 55, 56, 58, 59, 61, 62, 63, 65, 67, 68,
      70, 71, 73, 74, 76, 78, 80, 81, 83, 85, 87, 88, 90, 92, 94, 96,
      98, 99, 101, 103, 105, 107, 109, 111, 113, 115, 117, 119, 121, 123, 125, 127,
      129, 131, 133, 135, 137, 139, 141, 143, 145, 147, 149, 151, 153, 155, 157, 158,
      160, 162, 164, 166, 168, 169, 171, 173, 175, 176, 178, 180, 182, 183, 185, 186,
      188, 189, 191, 193, 194, 195, 197, 198, 200, 201, 202, 204, 205, 206, 207, 209,
      210, 211, 212, 213, 214, 216, 217, 218, 219, 220, 221, 221, 222, 223, 224, 225,
      226, 227, 228, 228, 229, 230, 231, 231, 232, 233, 233, 234, 235, 235, 236, 236,
      237, 237, 238, 238, 239, 239, 240, 240, 241, 241, 242, 242, 243, 243, 243, 244,
      244, 244, 245, 245, 245, 246, 246, 246, 247, 247, 247, 247, 248, 248, 248, 248,
      249, 249, 249, 249, 249, 250, 250, 250, 250, 250, 251, 251, 251, 251, 251, 251,
      251, 252, 252, 252, 252, 252, 252, 252, 252, 253, 253, 253, 253, 253, 253, 253,
      253, 253, 253, 253, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254, 254,
      254, 254, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
      255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
      255, 255, 255, 255, 255, 255, 255, 255, 256, 256, 256, 256, 256, 256, 256, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
  };
  return kTable[index];
}

SPIKEY_HD std::int32_t gru_tanh(int index) {
  static constexpr std::int16_t kTable[2 * kGruTableHalf] = {
      -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256,
      -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256,
      -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256,
      -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256,
      -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256,
      -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256,
      -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256,
      -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256,
      -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256, -256,
      -256, -255, -255, -255, -255, -255, -255, -255, -255, -255, -255, -255, -255, -255, -255, -255,
      -255, -255, -255, -254, -254, -254, -254, -254, -254, -254, -254, -253, -253, -253, -253, -253,
      -252, -252, -252, -252, -251, -251, -251, -251, -250, -250, -249, -249, -249, -248, -248, -247,
      -247, -246, -245, -245, -244, -243, -242, -241, -241, -240, -239, -237, -236, -235, -234, -232,
      -231, -229, -228, -226, -224, -222, -220, -218, -216, -214, -211, -209, -206, -203, -200, -197,
      -193, -190, -186, -182, -178, -174, -170, -165, -160, -155, -150, -145, -139, -133, -128, -121,
      -115, -109, -102, -95, -88, -81, -74, -66, -59, -51, -44, -36, -28, -20, -12, -4,
      4, 12, 20, 28, 36, 44, 51, 59, 66, 74, 81, 88, 95, 102, 109, 115,
      121, 128, 133, 139, 145, 150, 155, 160, 165, 170, 174, 178, 182, 186, 190, 193,
      197, 200, 203, 206, 209, 211, 214, 216, 218, 220, 222, 224, 226, 228, 229, 231,
      232, 234, 235, 236, 237, 239, 240, 241, 241, 242, 243, 244, 245, 245, 246, 247,
      247, 248, 248, 249, 249, 249, 250, 250, 251, 251, 251, 251, 252, 252, 252, 252,
      253, 253, 253, 253, 253, 254, 254, 254, 254, 254, 254, 254, 254, 255, 255, 255,
      255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
      256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256,
  };
  return kTable[index];
}

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

// The inputs x of either projector: `recent` points at c[t-8] (8 values).
SPIKEY_HD std::int32_t net_prediction_input(std::int32_t linear_prediction, std::int32_t input_gain) {
  return net_input(net_clamp(linear_prediction, kNetPredictionClamp), input_gain);
}

SPIKEY_HD void net_inputs(std::int32_t input_gain, const std::int32_t* recent, std::int32_t linear_prediction, std::int32_t* x) {
  for (int i = 0; i < kNetHistory; ++i) x[i] = net_input(recent[i], input_gain);
  x[kNetHistory] = net_prediction_input(linear_prediction, input_gain);
}

// W2_j h_j, hidden unit j's term of o, from its weights W1_j, b1_j and W2_j.
SPIKEY_HD std::int32_t net_unit_term(const std::int32_t* w1, std::int32_t b1, std::int32_t w2, const std::int32_t* x) {
  std::int32_t pre = b1;
  for (int i = 0; i < kNetInputs; ++i) pre += w1[i] * x[i];
  return w2 * net_hidden(pre);
}

// The network's raw output o at one time step. `recent` points at c[t-8] (8 values). The terms
// are integers within the bounds above in any order, so o may also be summed unit by unit in
// any grouping (the GPU's lane forms: golomb_batch.hpp batch_net_lane_partial).
SPIKEY_HD std::int32_t mo_relu_output(const MoNetwork& net, const std::int32_t* x) {
  std::int32_t o = net.b2;
  for (int j = 0; j < net.hidden; ++j) o += net_unit_term(net.w1[j], net.b1[j], net.w2[j], x);
  return o;
}

SPIKEY_HD std::int32_t mo_network_output(const MoNetwork& net, std::int32_t input_gain, const std::int32_t* recent, std::int32_t linear_prediction) {
  std::int32_t x[kNetInputs];
  net_inputs(input_gain, recent, linear_prediction, x);
  return mo_relu_output(net, x);
}

// A GRU gate's table lookup: the pre-activation (1.0 = 2^16) in 1/32 steps, clamped to [-8, 8).
SPIKEY_HD int gru_table_index(std::int32_t pre) {
  const std::int32_t i = pre >> kGruTableShift;
  return static_cast<int>((i < -kGruTableHalf ? -kGruTableHalf : (i > kGruTableHalf - 1 ? kGruTableHalf - 1 : i)) + kGruTableHalf);
}

// One GRU step (§6.8.2): updates `state` (net.hidden values, zero at the chunk's start) from
// the same inputs x as the ReLU layer and returns the readout o = b2 + sum_k W2_k h'_k.
//   z_k = S(bz_k + Wz_k.x + Uz_k.h)     r_k = S(br_k + Wr_k.x + Ur_k.h)
//   n_k = T(bn_k + Wn_k.x + Un_k.((r * h) >> 8))
//   h'_k = ((256 - z_k) * n_k + z_k * h_k) >> 8
// S and T are the tables above at gru_table_index; biases 1.0 = 2^16, weights 1.0 = 256.
// Bounds: |pre| <= 2^20 + 9 * 4095 * 8191 + 16 * 4095 * 256 = 319,706,941 < 2^29; |h'| <= 256;
// |o| <= 2^22 + 16 * 4095 * 256 < 2^25.
SPIKEY_HD std::int32_t mo_gru_output(const MoNetwork& net, std::int32_t input_gain, const std::int32_t* recent, std::int32_t linear_prediction,
                                     std::int32_t* state) {
  std::int32_t x[kNetInputs];
  net_inputs(input_gain, recent, linear_prediction, x);
  const int hidden = net.hidden;
  std::int32_t z[kMaxGruHidden], rh[kMaxGruHidden];
  for (int k = 0; k < hidden; ++k) {
    std::int32_t pz = net.gb[0][k], pr = net.gb[1][k];
    for (int i = 0; i < kNetInputs; ++i) pz += net.gx[0][k][i] * x[i], pr += net.gx[1][k][i] * x[i];
    for (int j = 0; j < hidden; ++j) pz += net.gh[0][k][j] * state[j], pr += net.gh[1][k][j] * state[j];
    z[k] = gru_sigmoid(gru_table_index(pz));
    rh[k] = (gru_sigmoid(gru_table_index(pr)) * state[k]) >> 8;
  }
  std::int32_t o = net.b2;
  std::int32_t next[kMaxGruHidden];
  for (int k = 0; k < hidden; ++k) {
    std::int32_t pn = net.gb[2][k];
    for (int i = 0; i < kNetInputs; ++i) pn += net.gx[2][k][i] * x[i];
    for (int j = 0; j < hidden; ++j) pn += net.gh[2][k][j] * rh[j];
    const std::int32_t n = gru_tanh(gru_table_index(pn));
    next[k] = ((kGruOne - z[k]) * n + z[k] * state[k]) >> 8;
    o += net.w2[k] * next[k];
  }
  for (int k = 0; k < hidden; ++k) state[k] = next[k];
  return o;
}

// The correction to add to the linear accumulator. `state` is the GRU's running state (ignored
// by the ReLU projector).
SPIKEY_HD std::int32_t mo_network_correction(const MoNetwork& net, std::int32_t input_gain, std::int32_t output_gain, const std::int32_t* recent,
                                             std::int32_t linear_prediction, std::int32_t* state) {
  const std::int32_t o = net.projector == NetProjector::kGru ? mo_gru_output(net, input_gain, recent, linear_prediction, state)
                                                             : mo_network_output(net, input_gain, recent, linear_prediction);
  return net_correction(o, output_gain);
}

}  // namespace spikey::format
