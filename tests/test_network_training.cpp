// The projectors' training epochs (relu_training.hpp, gru_training.hpp), which the CPU and the
// CUDA trainers share: they learn on real data, visit every sample once per epoch, and are what
// the encoder runs (through MoTrainingOptions::relu_trainer / gru_trainer when given).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>

#include "spikey/format/archive.hpp"
#include "spikey/host/encoder.hpp"
#include "codecs/mo/gru_training.hpp"
#include "codecs/mo/relu_training.hpp"
#include "test_support.hpp"
#include "training_support.hpp"

using namespace spikey;

namespace {

double mean_absolute_error(const host::ReluLayout& layout, const std::vector<float>& p, const test::ReluTrainingSet& set, bool quantized) {
  std::vector<float> batch(layout.size()), pre(layout.hidden), h(layout.hidden);
  for (std::uint32_t k = 0; k < layout.size(); ++k) batch[k] = host::batch_weight(p[k], layout.unit(k), quantized);
  double sum = 0;
  for (std::size_t s = 0; s < set.y.size(); ++s)
    sum += std::abs(host::relu_forward(layout, batch.data(), &set.x[s * format::kNetInputs], quantized, pre.data(), h.data()) - set.y[s]);
  return sum / static_cast<double>(set.y.size());
}

std::vector<float> initial_parameters(const host::ReluLayout& layout, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<float> weight(-0.3f, 0.3f);
  std::vector<float> p(layout.size(), 0.0f);
  for (std::uint32_t k = 0; k < layout.b1(0); ++k) p[k] = weight(random);
  for (std::uint32_t j = 0; j < layout.hidden; ++j) p[layout.w2(j)] = weight(random) * 0.1f;
  return p;
}

}  // namespace

TEST(ReluTraining, EpochOrdersArePermutationsThatChange) {
  std::mt19937_64 random(7);
  const auto orders = host::epoch_orders(1000, 3, [&] { return random(); });
  ASSERT_EQ(orders.size(), 3000u);
  for (int e = 0; e < 3; ++e) {
    std::vector<std::uint32_t> epoch(orders.begin() + e * 1000, orders.begin() + (e + 1) * 1000);
    if (e > 0) EXPECT_FALSE(std::equal(epoch.begin(), epoch.end(), orders.begin() + (e - 1) * 1000)) << "epoch " << e;
    std::ranges::sort(epoch);
    for (std::uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(epoch[i], i) << "epoch " << e << " is not a permutation";
  }
}

// Float epochs, then quantization-aware ones, lower the mean absolute error of predicting real
// differences; the parameters stay within what quantizes into the integer network's ranges.
TEST(ReluTraining, LowersTheErrorOnRealDataWithinTheIntegerRanges) {
  const auto set = test::cinpla_relu_training_set(20000);
  host::ReluEpochs run;
  run.layout.hidden = 16;
  run.x = set.x;
  run.y = set.y;
  auto p = initial_parameters(run.layout, 3);
  const double before = mean_absolute_error(run.layout, p, set, false);
  std::mt19937_64 random(11);
  for (const bool quantized : {false, true}) {
    run.quantized = quantized;
    run.epochs = quantized ? 2 : 8;
    run.rate = quantized ? 1e-3f : 3e-3f;
    const auto order = host::epoch_orders(set.y.size(), run.epochs, [&] { return random(); });
    run.order = order;
    host::train_relu_epochs_on_cpu(run, p);
  }
  const double after = mean_absolute_error(run.layout, p, set, true);
  double zero = 0;  // the error of predicting no change
  for (const float y : set.y) zero += std::abs(y);
  zero /= static_cast<double>(set.y.size());
  // (least squares on the same inputs reaches 0.957 of predicting 0 here)
  EXPECT_LT(after, 0.95 * std::min(before, zero)) << "before " << before << ", after " << after << ", predicting 0: " << zero;
  for (std::uint32_t k = 0; k < run.layout.size(); ++k) EXPECT_LE(std::abs(p[k]), run.layout.limit(k)) << "parameter " << k;
}

// The CUDA trainer sums each parameter's terms over a batch (relu_gradient_term), the CPU adds
// each sample into every parameter (relu_add_sample_gradient): the same sums, bit for bit, on
// real data, float and quantized, including units outside their clamp and zero gradients.
TEST(ReluTraining, PerParameterSumsEqualPerSampleSums) {
  const auto set = test::cinpla_relu_training_set(4 * host::kReluBatch);
  for (const bool quantized : {false, true}) {
    host::ReluLayout layout{16};
    auto p = initial_parameters(layout, 5);
    p[layout.b1(3)] = -50.0f;  // a unit that never opens
    p[layout.b1(4)] = 40.0f;   // one always at its clamp
    std::vector<float> batch(layout.size());
    for (std::uint32_t k = 0; k < layout.size(); ++k) batch[k] = host::batch_weight(p[k], layout.unit(k), quantized);
    const std::size_t n = set.y.size();
    std::vector<float> pre(n * layout.hidden), h(n * layout.hidden), g(n);
    for (std::size_t s = 0; s < n; ++s) {
      const float out = host::relu_forward(layout, batch.data(), &set.x[s * format::kNetInputs], quantized, &pre[s * layout.hidden], &h[s * layout.hidden]);
      g[s] = s % 7 == 0 ? 0.0f : host::l1_output_gradient(out, set.y[s], 1.0f / static_cast<float>(n));
    }
    std::vector<float> by_sample(layout.size(), 0.0f), by_parameter(layout.size(), 0.0f);
    for (std::size_t s = 0; s < n; ++s)
      host::relu_add_sample_gradient(layout, g[s], batch.data(), &pre[s * layout.hidden], &h[s * layout.hidden], &set.x[s * format::kNetInputs],
                                     by_sample.data());
    for (std::uint32_t k = 0; k < layout.size(); ++k) {
      float term = 0;
      for (std::size_t s = 0; s < n; ++s)
        if (host::relu_gradient_term(layout, k, g[s], batch.data(), &pre[s * layout.hidden], &h[s * layout.hidden], &set.x[s * format::kNetInputs], term))
          by_parameter[k] += term;
    }
    for (std::uint32_t k = 0; k < layout.size(); ++k)
      EXPECT_EQ(std::bit_cast<std::uint32_t>(by_sample[k]), std::bit_cast<std::uint32_t>(by_parameter[k])) << "parameter " << k << ", quantized " << quantized;
    EXPECT_EQ(by_sample[layout.b1(3)], 0.0f);
    EXPECT_NE(by_sample[layout.w2(0)], 0.0f);
  }
}

// The encoder trains through options.mo_training.relu_trainer when one is set (the CUDA
// trainer in the CLI), once for the float epochs and once for fine-tuning, and gets the bytes
// the built-in CPU trainer gives.
TEST(ReluTraining, EncoderRunsTheGivenTrainer) {
  test::TempDir out;
  const auto recording = test::cinpla_sample_recording();
  auto options = test::network_stage_options(1u << 12);
  host::compress(recording, out / "builtin.spikey", options);
  int runs = 0;
  options.mo_training.relu_trainer = [&](const host::ReluEpochs& run, std::vector<float>& p) {
    ++runs;
    host::train_relu_epochs_on_cpu(run, p);
  };
  const auto report = host::compress(recording, out / "given.spikey", options);
  EXPECT_EQ(report.codec, format::kCodecMo2);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(test::read_file(out / "builtin.spikey"), test::read_file(out / "given.spikey"));
}

// The GRU's float exp (the same operations on host and device) is within a few units in the
// last place of the C library's, and sigmoid and tanh built on it keep their shape.
TEST(GruTraining, ExpIsAccurateOverTheClampedRange) {
  double worst = 0;
  for (float v = -87.0f; v <= 88.0f; v += 0.0137f) {
    const double exact = std::exp(static_cast<double>(v));
    worst = std::max(worst, std::abs(host::training_exp(v) - exact) / exact);
  }
  EXPECT_LT(worst, 4e-7) << "relative error";
  EXPECT_EQ(host::training_exp(0.0f), 1.0f);
  EXPECT_EQ(host::training_exp(-1000.0f), host::training_exp(-87.0f));
  EXPECT_FLOAT_EQ(host::training_sigmoid(0.0f), 0.5f);
  EXPECT_NEAR(host::training_tanh(0.5f), std::tanh(0.5), 1e-6);
  EXPECT_NEAR(host::training_tanh(-3.0f), std::tanh(-3.0), 1e-6);
  EXPECT_EQ(host::training_tanh(100.0f), 1.0f);
}

// The encoder trains the GRU through options.mo_training.gru_trainer when one is set, once for
// the float epochs and once for fine-tuning, and gets the bytes the built-in trainer gives.
TEST(GruTraining, EncoderRunsTheGivenTrainer) {
  test::TempDir out;
  const auto recording = test::cinpla_sample_recording();
  auto options = test::network_stage_options(1u << 12);
  options.mo_training.network_projector = "gru";
  host::compress(recording, out / "builtin.spikey", options);
  int runs = 0;
  options.mo_training.gru_trainer = [&](const host::GruEpochs& run, std::vector<float>& p) {
    ++runs;
    host::train_gru_epochs_on_cpu(run, p, 3);
  };
  const auto report = host::compress(recording, out / "given.spikey", options);
  EXPECT_EQ(report.codec, format::kCodecMo3);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(test::read_file(out / "builtin.spikey"), test::read_file(out / "given.spikey"));
}
