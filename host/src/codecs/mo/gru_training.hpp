// Training epochs of the network stage's GRU projector (SPEC.md §6.8.2; network_training.cpp
// prepares the windows and picks the channels): backpropagation through windows of kGruWindow
// consecutive steps (the state starting at zero as at a chunk's start, the first kGruWarmup
// steps only warming it up), Adam on the mean absolute error, kGruBatch windows per step,
// optionally quantization-aware. As for the ReLU projector (relu_training.hpp), the float math
// is written once (SPIKEY_HD) for the CPU loop (train_gru_epochs_on_cpu) and the CUDA trainer
// (cuda/src/network_training.cu): each window's gradient goes to its own buffer and the buffers
// are summed in window order, exp is computed by the same operations on both sides
// (training_exp), and nothing is contracted into fused multiply-adds, so both give the same
// weights bit for bit, for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <functional>
#include <span>
#include <thread>
#include <vector>

#include "spikey/format/hd.hpp"
#include "spikey/format/codecs/mo/mo_network.hpp"
#include "spikey/host/training.hpp"
#include "codecs/mo/relu_training.hpp"

namespace spikey::host {

inline constexpr std::uint32_t kGruWindow = 64;
inline constexpr std::uint32_t kGruWarmup = 16;
inline constexpr std::uint32_t kGruBatch = 64;  // windows per Adam step

// The GRU's float parameters in one vector: gx (3 x H x kNetInputs), gh (3 x H x H), gb (3 x H),
// w2 (H), b2. Gates in the order z, r, n.
struct GruLayout {
  std::uint32_t hidden = 0;

  SPIKEY_HD std::uint32_t gx(std::uint32_t g, std::uint32_t k, std::uint32_t i) const { return (g * hidden + k) * format::kNetInputs + i; }
  SPIKEY_HD std::uint32_t gh(std::uint32_t g, std::uint32_t k, std::uint32_t j) const {
    return 3 * hidden * format::kNetInputs + (g * hidden + k) * hidden + j;
  }
  SPIKEY_HD std::uint32_t gb(std::uint32_t g, std::uint32_t k) const { return 3 * hidden * (format::kNetInputs + hidden) + g * hidden + k; }
  SPIKEY_HD std::uint32_t w2(std::uint32_t k) const { return 3 * hidden * (format::kNetInputs + hidden + 1) + k; }
  SPIKEY_HD std::uint32_t b2() const { return w2(hidden); }
  SPIKEY_HD std::uint32_t size() const { return b2() + 1; }
  SPIKEY_HD bool is_bias(std::uint32_t k) const { return k == b2() || (k >= gb(0, 0) && k < w2(0)); }
  SPIKEY_HD float unit(std::uint32_t k) const { return is_bias(k) ? kBiasUnit : kWeightUnit; }
  SPIKEY_HD float limit(std::uint32_t k) const {
    if (k == b2()) return static_cast<float>(format::kMaxNetOutputBias) / kBiasUnit;
    if (is_bias(k)) return static_cast<float>(format::kMaxGruBias) / kBiasUnit;
    return static_cast<float>(format::kMaxNetWeight) / kWeightUnit;
  }
  // Floats of scratch one window's gradient needs (gru_window_gradient).
  SPIKEY_HD std::uint32_t scratch_size() const { return 6 * kGruWindow * hidden + 8 * hidden + kGruWindow; }
};

// exp(v) by the same float operations on host and device (their own expf differ in the last
// bit now and then): v = k ln2 + r with |r| <= ln2/2 (ln2 in two parts, so k ln2 is exact),
// e^r by its Taylor polynomial to r^7 (relative error below 2^-23), times 2^k. Arguments are
// clamped to [-87, 88], where 2^k stays a normal float.
SPIKEY_HD float training_exp(float v) {
  v = v < -87.0f ? -87.0f : (v > 88.0f ? 88.0f : v);
#if defined(__CUDA_ARCH__)
  const float k = rintf(v * 1.44269504f);
#else
  const float k = __builtin_rintf(v * 1.44269504f);
#endif
  const float r = (v - k * 0.693145752f) - k * 1.42860677e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(k) + 127) << 23;
  float scale;
#if defined(__CUDA_ARCH__)
  scale = __uint_as_float(bits);
#else
  std::memcpy(&scale, &bits, sizeof scale);
#endif
  return p * scale;
}
SPIKEY_HD float training_sigmoid(float v) { return 1.0f / (1.0f + training_exp(-v)); }
SPIKEY_HD float training_tanh(float v) { return 2.0f / (1.0f + training_exp(-2.0f * v)) - 1.0f; }

// The integer GRU's activations in float (1.0 = 256 units): a gate from its table, and the
// floor of a product of two activations.
SPIKEY_HD float gru_table_gate(float pre, bool tanh_gate) {
  float scaled = pre * kBiasUnit;
  scaled = scaled < -1073741824.0f ? -1073741824.0f : (scaled > 1073741824.0f ? 1073741824.0f : scaled);
#if defined(__CUDA_ARCH__)
  const auto fixed = static_cast<std::int32_t>(llroundf(scaled));
#else
  const auto fixed = static_cast<std::int32_t>(__builtin_llroundf(scaled));
#endif
  const int index = format::gru_table_index(fixed);
  return static_cast<float>(tanh_gate ? format::gru_tanh(index) : format::gru_sigmoid(index)) / kActivationUnit;
}
SPIKEY_HD float gru_floor(float v) {
#if defined(__CUDA_ARCH__)
  return floorf(v * kActivationUnit) / kActivationUnit;
#else
  return __builtin_floorf(v * kActivationUnit) / kActivationUnit;
#endif
}

// Writes the gradient of the mean absolute error (over the steps after the warm-up, `scale` =
// 1 / (windows x counted steps)) of one window to `grad` (layout.size() values, overwritten).
// p: the batch's weights; x: kGruWindow x kNetInputs inputs; y: kGruWindow targets; scratch:
// layout.scratch_size() floats. With `quantized` the forward pass runs the integer GRU's gates
// and roundings and the gradient passes straight through them.
SPIKEY_HD void gru_window_gradient(const GruLayout& L, const float* __restrict__ p, const float* __restrict__ x, const float* __restrict__ y, float scale,
                                   bool quantized, float* __restrict__ scratch,
                                   float* __restrict__ grad) {
  const std::uint32_t hn = L.hidden, size = L.size();
  // Per step: previous state, z, r, n, r * previous state, new state; then per-unit vectors.
  float* h_prev = scratch;
  float* z = h_prev + kGruWindow * hn;
  float* r = z + kGruWindow * hn;
  float* n = r + kGruWindow * hn;
  float* rh = n + kGruWindow * hn;
  float* h_new = rh + kGruWindow * hn;
  float* h = h_new + kGruWindow * hn;
  float* dh = h + hn;
  float* dz = dh + hn;
  float* dr = dz + hn;
  float* dn = dr + hn;
  float* drh = dn + hn;
  float* dh_prev = drh + hn;
  float* out_grad = dh_prev + hn;
  for (std::uint32_t k = 0; k < size; ++k) grad[k] = 0.0f;
  for (std::uint32_t k = 0; k < hn; ++k) h[k] = 0.0f, dh[k] = 0.0f;
  for (std::uint32_t t = 0; t < kGruWindow; ++t) {
    const float* xt = x + t * format::kNetInputs;
    float* zt = z + t * hn;
    float* rt = r + t * hn;
    float* nt = n + t * hn;
    float* rht = rh + t * hn;
    float* next = h_new + t * hn;
    for (std::uint32_t k = 0; k < hn; ++k) h_prev[t * hn + k] = h[k];
    for (std::uint32_t k = 0; k < hn; ++k) {
      float az = p[L.gb(0, k)], ar = p[L.gb(1, k)];
      for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(format::kNetInputs); ++i) az += p[L.gx(0, k, i)] * xt[i], ar += p[L.gx(1, k, i)] * xt[i];
      for (std::uint32_t j = 0; j < hn; ++j) az += p[L.gh(0, k, j)] * h[j], ar += p[L.gh(1, k, j)] * h[j];
      zt[k] = quantized ? gru_table_gate(az, false) : training_sigmoid(az);
      rt[k] = quantized ? gru_table_gate(ar, false) : training_sigmoid(ar);
      rht[k] = quantized ? gru_floor(rt[k] * h[k]) : rt[k] * h[k];
    }
    float out = p[L.b2()];
    for (std::uint32_t k = 0; k < hn; ++k) {
      float an = p[L.gb(2, k)];
      for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(format::kNetInputs); ++i) an += p[L.gx(2, k, i)] * xt[i];
      for (std::uint32_t j = 0; j < hn; ++j) an += p[L.gh(2, k, j)] * rht[j];
      nt[k] = quantized ? gru_table_gate(an, true) : training_tanh(an);
      const float blend = (1 - zt[k]) * nt[k] + zt[k] * h[k];
      next[k] = quantized ? gru_floor(blend) : blend;
      out += p[L.w2(k)] * next[k];
    }
    for (std::uint32_t k = 0; k < hn; ++k) h[k] = next[k];
    out_grad[t] = t >= kGruWarmup ? (out > y[t] ? 1.0f : (out < y[t] ? -1.0f : 0.0f)) * scale : 0.0f;
  }
  for (std::uint32_t t = kGruWindow; t-- > 0;) {
    const float g = out_grad[t];
    const float* xt = x + t * format::kNetInputs;
    const float* hp = h_prev + t * hn;
    for (std::uint32_t k = 0; k < hn; ++k) {
      grad[L.w2(k)] += g * h_new[t * hn + k];
      dh[k] += g * p[L.w2(k)];
    }
    grad[L.b2()] += g;
    for (std::uint32_t k = 0; k < hn; ++k) {
      const float zk = z[t * hn + k], nk = n[t * hn + k];
      dn[k] = dh[k] * (1 - zk) * (1 - nk * nk);
      dz[k] = dh[k] * (hp[k] - nk) * zk * (1 - zk);
    }
    for (std::uint32_t j = 0; j < hn; ++j) {
      float s = 0;
      for (std::uint32_t k = 0; k < hn; ++k) s += p[L.gh(2, k, j)] * dn[k];
      drh[j] = s;
      const float rj = r[t * hn + j];
      dr[j] = s * hp[j] * rj * (1 - rj);
    }
    for (std::uint32_t k = 0; k < hn; ++k) {
      const float d[3] = {dz[k], dr[k], dn[k]};
      for (std::uint32_t gate = 0; gate < 3; ++gate) {
        if (d[gate] == 0) continue;
        for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(format::kNetInputs); ++i) grad[L.gx(gate, k, i)] += d[gate] * xt[i];
        grad[L.gb(gate, k)] += d[gate];
      }
      for (std::uint32_t j = 0; j < hn; ++j) {
        grad[L.gh(0, k, j)] += dz[k] * hp[j];
        grad[L.gh(1, k, j)] += dr[k] * hp[j];
        grad[L.gh(2, k, j)] += dn[k] * rh[t * hn + j];
      }
    }
    for (std::uint32_t j = 0; j < hn; ++j) {
      float s = dh[j] * z[t * hn + j] + drh[j] * r[t * hn + j];
      for (std::uint32_t k = 0; k < hn; ++k) s += p[L.gh(0, k, j)] * dz[k] + p[L.gh(1, k, j)] * dr[k];
      dh_prev[j] = s;
    }
    for (std::uint32_t j = 0; j < hn; ++j) dh[j] = dh_prev[j];
  }
}

// One training run of the GRU projector: `epochs` passes over the windows (x: windows x
// kGruWindow x kNetInputs, y: windows x kGruWindow), epoch e visiting them in the order
// order[e * windows .. (e+1) * windows), kGruBatch at a time, each batch one Adam step (fresh
// moments at the run's start) at `rate`; with `quantized` the batches run the weights on their
// grids and the integer GRU's activations.
struct GruEpochs {
  GruLayout layout;
  std::span<const float> x;
  std::span<const float> y;
  std::span<const std::uint32_t> order;
  int epochs = 0;
  float rate = 0;
  bool quantized = false;
};

// Threads the CPU trainer's team uses at most: its steps are short, and the team meets at a
// barrier several times per step.
inline unsigned training_team_size(unsigned threads) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max(1u, std::min({threads, cores, 8u}));
}

// Windows of a batch in parallel on `threads` threads; the same weights for any thread count.
void train_gru_epochs_on_cpu(const GruEpochs& run, std::vector<float>& parameters, unsigned threads);

}  // namespace spikey::host
