// Training epochs of the network stage's ReLU projector (SPEC.md §6.8.1; network_training.cpp
// prepares the data and picks the channels): Adam on the mean absolute error, in batches of
// kReluBatch samples, optionally quantization-aware. The float math of one step is written once
// here (SPIKEY_HD) and run by the CPU loop (train_relu_epochs_on_cpu) and by the CUDA trainer
// (cuda/src/network_training.cu). Both add the same terms in the same order with IEEE single
// arithmetic (no contraction into fused multiply-adds: -ffp-contract=off and nvcc -fmad=false),
// so they give the same weights bit for bit, and the archive's bytes do not depend on where
// the encoder trained.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "spikey/format/hd.hpp"
#include "spikey/format/codecs/mo/mo_network.hpp"
#include "spikey/host/training.hpp"

namespace spikey::host {

// Fixed-point units of the integer network (SPEC.md §6.8.1): the float network's weights and
// activations are these multiples of its integers.
inline constexpr float kWeightUnit = 256;      // W1, W2, the GRU's weights: 8 fractional bits
inline constexpr float kBiasUnit = 65536;      // b1, b2, the GRU's biases: 16 fractional bits
inline constexpr float kActivationUnit = 256;  // x, h, y
inline constexpr std::size_t kReluBatch = 256;  // samples per Adam step

// The ReLU network's float parameters in one vector: w1 (kNetInputs x hidden: input by input,
// so that the hidden units of one input lie side by side for the CPU's vector loops), b1
// (hidden), w2 (hidden), b2.
struct ReluLayout {
  std::uint32_t hidden = 0;

  SPIKEY_HD std::uint32_t w1(std::uint32_t j, std::uint32_t i) const { return i * hidden + j; }
  SPIKEY_HD std::uint32_t b1(std::uint32_t j) const { return hidden * format::kNetInputs + j; }
  SPIKEY_HD std::uint32_t w2(std::uint32_t j) const { return hidden * (format::kNetInputs + 1) + j; }
  SPIKEY_HD std::uint32_t b2() const { return hidden * (format::kNetInputs + 2); }
  SPIKEY_HD std::uint32_t size() const { return b2() + 1; }
  SPIKEY_HD bool is_bias(std::uint32_t k) const { return k == b2() || (k >= b1(0) && k < w2(0)); }
  // The grid a parameter quantizes onto, and the bound that keeps it within its integer range.
  SPIKEY_HD float unit(std::uint32_t k) const { return is_bias(k) ? kBiasUnit : kWeightUnit; }
  SPIKEY_HD float limit(std::uint32_t k) const {
    if (k == b2()) return static_cast<float>(format::kMaxNetOutputBias) / kBiasUnit;
    if (is_bias(k)) return static_cast<float>(format::kMaxNetHiddenBias) / kBiasUnit;
    return static_cast<float>(format::kMaxNetWeight) / kWeightUnit;
  }
};

inline constexpr float kMaxReluActivation = static_cast<float>(format::kNetHiddenClamp) / kActivationUnit;

// The value a batch runs a parameter with: on its integer grid (steps of 1/unit) when
// fine-tuning. Both projectors' trainers use it.
SPIKEY_HD float batch_weight(float value, float unit, bool quantized) {
  if (!quantized) return value;
#if defined(__CUDA_ARCH__)
  return roundf(value * unit) / unit;
#else
  return __builtin_roundf(value * unit) / unit;
#endif
}

// A hidden unit passes gradient only inside its clamp.
SPIKEY_HD bool relu_unit_active(float pre) { return (pre > 0) & (pre < kMaxReluActivation); }  // & : no branch, so loops vectorize

// The forward pass of one sample with the batch's weights `p`: fills pre[j] and h[j] (the
// activations; floored onto their grid when quantized) and returns the output.
// Unit j's pre-activation is b1[j] + w1[j][0] x[0] + ... + w1[j][8] x[8], added in that order;
// the output b2 + w2[0] h[0] + ... in unit order. (The loops run input by input over all units,
// which vectorizes across units and adds each unit's terms in the same order.)
SPIKEY_HD float relu_forward(const ReluLayout& layout, const float* __restrict__ p, const float* __restrict__ xs, bool quantized,
                             float* __restrict__ pre, float* __restrict__ h) {
  const std::uint32_t hidden = layout.hidden;
  for (std::uint32_t j = 0; j < hidden; ++j) pre[j] = p[layout.b1(j)];
  for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(format::kNetInputs); ++i) {
    const float* w = p + layout.w1(0, i);
    const float x = xs[i];
    for (std::uint32_t j = 0; j < hidden; ++j) pre[j] += w[j] * x;
  }
  for (std::uint32_t j = 0; j < hidden; ++j) {
    const float a = pre[j];
    float act = a < 0 ? 0.0f : (a > kMaxReluActivation ? kMaxReluActivation : a);
#if defined(__CUDA_ARCH__)
    if (quantized) act = floorf(act * kActivationUnit) / kActivationUnit;
#else
    if (quantized) act = __builtin_floorf(act * kActivationUnit) / kActivationUnit;
#endif
    h[j] = act;
  }
  float out = p[layout.b2()];
  for (std::uint32_t j = 0; j < hidden; ++j) out += p[layout.w2(j)] * h[j];
  return out;
}

// The gradient of the batch's mean absolute error at the output: sign(out - y) / batch size.
SPIKEY_HD float l1_output_gradient(float out, float y, float scale) { return (out > y ? 1.0f : (out < y ? -1.0f : 0.0f)) * scale; }

// One sample's terms of the gradient (g: its output gradient; none when g is 0):
//   b2: g;  w2[j]: g * h[j];  and where unit j is active, b1[j]: g * w2[j] and w1[j][i]: (g * w2[j]) * x[i].
// Two ways to add them, which give the same sums when samples are added in the same order:
// sample by sample into every parameter (relu_add_sample_gradient, unit by unit with
// relu_add_unit_gradient: the CPU loop), or parameter by parameter (relu_gradient_term: the
// CUDA trainer's thread per parameter). A test holds them equal bit for bit.
SPIKEY_HD void relu_add_unit_gradient(const ReluLayout& layout, std::uint32_t j, float g, const float* p, float pre, float h, const float* xs,
                                      float* grad) {
  if (g == 0) return;
  grad[layout.w2(j)] += g * h;
  if (!relu_unit_active(pre)) return;
  const float gh = g * p[layout.w2(j)];
  grad[layout.b1(j)] += gh;
  for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(format::kNetInputs); ++i) grad[layout.w1(j, i)] += gh * xs[i];
}

// The same terms as relu_add_unit_gradient for every unit (each parameter receives one term per
// sample, so the order across parameters does not matter), input by input over all units. An
// inactive unit's b1 and w1 terms become +0 (the term's bits and-ed with the unit's mask), which
// leaves a sum unchanged bit for bit: sums start at +0 and a sum of floats is -0 only when both
// addends are, so no sum is ever -0. Masks rather than selects or branches, so that GCC
// vectorizes every loop (host only: the GPU sums parameter by parameter).
inline void relu_add_sample_gradient(const ReluLayout& layout, float g, const float* __restrict__ p, const float* __restrict__ pre,
                                     const float* __restrict__ h, const float* __restrict__ xs, float* __restrict__ grad) {
  if (g == 0) return;
  const std::uint32_t hidden = layout.hidden;
  float gh[format::kMaxNetHidden];
  std::uint32_t active[format::kMaxNetHidden];  // all ones where unit j is active, else 0
  for (std::uint32_t j = 0; j < hidden; ++j) {
    grad[layout.w2(j)] += g * h[j];
    active[j] = relu_unit_active(pre[j]) ? 0xffffffffu : 0u;
    gh[j] = g * p[layout.w2(j)];
    grad[layout.b1(j)] += std::bit_cast<float>(std::bit_cast<std::uint32_t>(gh[j]) & active[j]);
  }
  for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(format::kNetInputs); ++i) {
    float* gw = grad + layout.w1(0, i);
    const float x = xs[i];
    for (std::uint32_t j = 0; j < hidden; ++j) gw[j] += std::bit_cast<float>(std::bit_cast<std::uint32_t>(gh[j] * x) & active[j]);
  }
  grad[layout.b2()] += g;
}

// The sample's term of parameter k alone: false where it has none (skipped, not added as 0).
SPIKEY_HD bool relu_gradient_term(const ReluLayout& layout, std::uint32_t k, float g, const float* p, const float* pre, const float* h,
                                  const float* xs, float& term) {
  if (g == 0) return false;
  if (k == layout.b2()) {
    term = g;
    return true;
  }
  if (k >= layout.w2(0)) {
    term = g * h[k - layout.w2(0)];
    return true;
  }
  const std::uint32_t j = k >= layout.b1(0) ? k - layout.b1(0) : k % layout.hidden;
  if (!relu_unit_active(pre[j])) return false;
  const float gh = g * p[layout.w2(j)];
  term = k >= layout.b1(0) ? gh : gh * xs[k / layout.hidden];
  return true;
}

// Adam's update of one parameter from its gradient (correction1/2: 1 - beta^step, computed on
// the host), then the clamp that keeps it within its integer range.
SPIKEY_HD void adam_update(float& m, float& v, float& value, float gradient, float rate, float limit, float correction1, float correction2) {
  m = 0.9f * m + 0.1f * gradient;
  v = 0.999f * v + 0.001f * gradient * gradient;
#if defined(__CUDA_ARCH__)
  value -= rate * (m / correction1) / (sqrtf(v / correction2) + 1e-8f);
#else
  value -= rate * (m / correction1) / (__builtin_sqrtf(v / correction2) + 1e-8f);
#endif
  value = value < -limit ? -limit : (value > limit ? limit : value);
}

// Adam's bias correction 1 - beta^step (host only: device powf may round differently).
inline float adam_correction(float beta, std::uint64_t step) { return 1.0f - std::pow(beta, static_cast<float>(step)); }

// One training run of the ReLU projector: `epochs` passes over the samples, epoch e visiting
// them in the order order[e * count .. (e+1) * count), kReluBatch at a time, each batch one
// Adam step (fresh moments at the run's start) at `rate`; with `quantized` the batches run the
// weights on their grids and the activations floored (straight-through gradients).
struct ReluEpochs {
  ReluLayout layout;
  std::span<const float> x;  // count x kNetInputs
  std::span<const float> y;  // count
  std::span<const std::uint32_t> order;
  int epochs = 0;
  float rate = 0;
  bool quantized = false;
};

// The order of each epoch: the previous epoch's order (at first 0, 1, ..., count - 1) shuffled
// by Fisher-Yates with `next` (a 64-bit generator), epoch after epoch.
template <class Next>
std::vector<std::uint32_t> epoch_orders(std::size_t count, int epochs, Next&& next) {
  std::vector<std::uint32_t> order(count), all;
  for (std::size_t i = 0; i < count; ++i) order[i] = static_cast<std::uint32_t>(i);
  all.reserve(count * static_cast<std::size_t>(epochs));
  for (int epoch = 0; epoch < epochs; ++epoch) {
    for (std::size_t i = count; i > 1; --i) std::swap(order[i - 1], order[next() % i]);
    all.insert(all.end(), order.begin(), order.end());
  }
  return all;
}

// Runs the epochs on `parameters` (layout.size() values); ReluTrainer (training.hpp) has this shape.
void train_relu_epochs_on_cpu(const ReluEpochs& run, std::vector<float>& parameters);

}  // namespace spikey::host
