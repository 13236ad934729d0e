// The CUDA trainers of the projectors give the CPU trainers' weights bit for bit, and so the
// same archive bytes (label gpu: skipped without a device, a failure with SPIKEY_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>

#include "gpu_support.hpp"
#include "spikey/cuda/network_training.hpp"
#include "spikey/format/archive.hpp"
#include "spikey/host/gru_training.hpp"
#include "spikey/host/encoder.hpp"
#include "test_support.hpp"
#include "training_support.hpp"

using namespace spikey;

namespace {

std::vector<float> initial_parameters(const host::ReluLayout& layout, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<float> weight(-0.4f, 0.4f);
  std::vector<float> p(layout.size(), 0.0f);
  for (std::uint32_t k = 0; k < layout.size(); ++k) p[k] = weight(random);
  return p;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

// Float and quantization-aware epochs, at 1, 16 and 32 hidden units, on a set whose last batch
// is partial.
TEST(GpuReluTraining, SameWeightsAsTheCpuTrainer) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  const auto set = test::cinpla_relu_training_set(3 * host::kReluBatch * 17 + 77);
  for (const std::uint32_t hidden : {1u, 16u, 32u}) {
    for (const bool quantized : {false, true}) {
      host::ReluEpochs run;
      run.layout.hidden = hidden;
      run.x = set.x;
      run.y = set.y;
      run.epochs = 3;
      run.rate = 3e-3f;
      run.quantized = quantized;
      std::mt19937_64 random(hidden);
      const auto order = host::epoch_orders(set.y.size(), run.epochs, [&] { return random(); });
      run.order = order;
      auto cpu = initial_parameters(run.layout, hidden + 100);
      auto gpu = cpu;
      const auto started = std::chrono::steady_clock::now();
      host::train_relu_epochs_on_cpu(run, cpu);
      const double cpu_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      double kernel_seconds = 0;
      cuda::train_relu_epochs_on_gpu(run, gpu, &kernel_seconds);
      EXPECT_TRUE(same_bits(cpu, gpu)) << hidden << " hidden units, quantized " << quantized;
      RecordProperty("seconds_cpu_gpu_" + std::to_string(hidden) + (quantized ? "q" : "f"),
                     std::to_string(cpu_seconds) + " " + std::to_string(kernel_seconds));
    }
  }
}

// The whole encoder: level default with the network trained on the GPU writes the archive the
// CPU trainer gives.
TEST(GpuReluTraining, SameArchiveBytesAsTrainingOnTheCpu) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  test::TempDir out;
  const auto recording = test::cinpla_sample_recording();
  auto options = test::network_stage_options();
  const auto cpu = host::compress(recording, out / "cpu.spikey", options);
  options.mo_training.relu_trainer = [](const host::ReluEpochs& run, std::vector<float>& p) { cuda::train_relu_epochs_on_gpu(run, p); };
  const auto gpu = host::compress(recording, out / "gpu.spikey", options);
  EXPECT_EQ(gpu.codec, format::kCodecMo2);
  EXPECT_TRUE(gpu.verified);
  EXPECT_EQ(test::read_file(out / "cpu.spikey"), test::read_file(out / "gpu.spikey"));
}

// The GRU: float and quantization-aware epochs at 1, 4 and 16 hidden units, with a partial last
// batch of windows.
TEST(GpuGruTraining, SameWeightsAsTheCpuTrainer) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  const std::size_t windows = 2 * host::kGruBatch + 5;
  const auto set = test::cinpla_relu_training_set(windows * host::kGruWindow);  // windows of consecutive steps (a few span two channels)
  ASSERT_EQ(set.y.size(), windows * host::kGruWindow);
  for (const std::uint32_t hidden : {1u, 4u, 16u}) {
    for (const bool quantized : {false, true}) {
      host::GruEpochs run;
      run.layout.hidden = hidden;
      run.x = set.x;
      run.y = set.y;
      run.epochs = 2;
      run.rate = 3e-3f;
      run.quantized = quantized;
      std::mt19937_64 random(hidden);
      const auto order = host::epoch_orders(windows, run.epochs, [&] { return random(); });
      run.order = order;
      std::vector<float> cpu(run.layout.size());
      std::mt19937_64 init(hidden + 200);
      std::uniform_real_distribution<float> weight(-0.5f, 0.5f);
      for (auto& p : cpu) p = weight(init);
      auto gpu = cpu;
      const auto started = std::chrono::steady_clock::now();
      host::train_gru_epochs_on_cpu(run, cpu, 1);
      const double cpu_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      double kernel_seconds = 0;
      cuda::train_gru_epochs_on_gpu(run, gpu, &kernel_seconds);
      EXPECT_TRUE(same_bits(cpu, gpu)) << hidden << " hidden units, quantized " << quantized;
      RecordProperty("gru_seconds_cpu_gpu_" + std::to_string(hidden) + (quantized ? "q" : "f"),
                     std::to_string(cpu_seconds) + " " + std::to_string(kernel_seconds));
    }
  }
}

TEST(GpuGruTraining, SameArchiveBytesAsTrainingOnTheCpu) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  test::TempDir out;
  const auto recording = test::cinpla_sample_recording();
  auto options = test::network_stage_options();
  options.mo_training.network_projector = "gru";
  options.mo_training.gru_hidden = 8;
  const auto cpu = host::compress(recording, out / "cpu.spikey", options);
  options.mo_training.gru_trainer = [](const host::GruEpochs& run, std::vector<float>& p) { cuda::train_gru_epochs_on_gpu(run, p); };
  const auto gpu = host::compress(recording, out / "gpu.spikey", options);
  EXPECT_EQ(gpu.codec, format::kCodecMo3);
  EXPECT_TRUE(gpu.verified);
  EXPECT_EQ(test::read_file(out / "cpu.spikey"), test::read_file(out / "gpu.spikey"));
}

// Without a device the trainers refuse with an error, never a crash (runs only where there is none).
TEST(GpuReluTraining, RefusesWithoutADevice) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a device is present";
  host::ReluEpochs run;
  run.layout.hidden = 4;
  const std::vector<float> x(9, 1.0f), y(1, 1.0f);
  const std::vector<std::uint32_t> order(1, 0);
  run.x = x;
  run.y = y;
  run.order = order;
  run.epochs = 1;
  std::vector<float> p(run.layout.size(), 0.0f);
  EXPECT_THROW(cuda::train_relu_epochs_on_gpu(run, p), std::runtime_error);
  host::GruEpochs gru;
  gru.layout.hidden = 2;
  const std::vector<float> gx(host::kGruWindow * format::kNetInputs, 1.0f), gy(host::kGruWindow, 1.0f);
  gru.x = gx;
  gru.y = gy;
  gru.order = order;
  gru.epochs = 1;
  std::vector<float> gp(gru.layout.size(), 0.0f);
  EXPECT_THROW(cuda::train_gru_epochs_on_gpu(gru, gp), std::runtime_error);
}
