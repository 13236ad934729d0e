// The CUDA trainers of the projectors give the CPU trainers' weights bit for bit, and so the
// same archive bytes (label gpu: skipped without a device, a failure with SPIKEY_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>

#include "gpu_support.hpp"
#include "spikey/cuda/batch_encoder.hpp"
#include "spikey/cuda/network_training.hpp"
#include "spikey/cuda/training_sums.hpp"
#include "spikey/format/archive.hpp"
#include "codecs/mo/gru_training.hpp"
#include "codecs/training_common.hpp"
#include "spikey/host/batch_encoder.hpp"
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

// A run of either projector's trainer over `set`: `items` samples (ReLU) or windows (GRU) in a
// seeded order per epoch, kept in `order`, which the run views.
template <class Run>
Run training_run(const test::ReluTrainingSet& set, std::uint32_t hidden, int epochs, bool quantized, std::size_t items, std::uint64_t seed,
                 std::vector<std::uint32_t>& order) {
  Run run;
  run.layout.hidden = hidden;
  run.x = set.x;
  run.y = set.y;
  run.epochs = epochs;
  run.rate = 3e-3f;
  run.quantized = quantized;
  std::mt19937_64 random(seed);
  order = host::epoch_orders(items, epochs, [&] { return random(); });
  run.order = order;
  return run;
}

std::vector<float> uniform_parameters(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 init(seed);
  std::uniform_real_distribution<float> weight(-0.5f, 0.5f);
  std::vector<float> p(count);
  for (auto& x : p) x = weight(init);
  return p;
}

}  // namespace

// Float and quantization-aware epochs, at 1, 16 and 32 hidden units, on a set whose last batch
// is partial.
TEST(GpuReluTraining, SameWeightsAsTheCpuTrainer) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  const auto set = test::cinpla_relu_training_set(3 * host::kReluBatch * 17 + 77);
  for (const std::uint32_t hidden : {1u, 16u, 32u}) {
    for (const bool quantized : {false, true}) {
      std::vector<std::uint32_t> order;
      const auto run = training_run<host::ReluEpochs>(set, hidden, 3, quantized, set.y.size(), hidden, order);
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
  auto gpu_runs = std::make_shared<int>(0);
  options.mo_training.relu_trainer = [gpu_runs](const host::ReluEpochs& run, std::vector<float>& p) {
    cuda::train_relu_epochs_on_gpu(run, p);
    ++*gpu_runs;
  };
  const auto gpu = host::compress(recording, out / "gpu.spikey", options);
  EXPECT_GT(*gpu_runs, 0) << "the GPU trainer never ran";
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
      std::vector<std::uint32_t> order;
      const auto run = training_run<host::GruEpochs>(set, hidden, 2, quantized, windows, hidden, order);
      auto cpu = uniform_parameters(run.layout.size(), hidden + 200);
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
  auto gpu_runs = std::make_shared<int>(0);
  options.mo_training.gru_trainer = [gpu_runs](const host::GruEpochs& run, std::vector<float>& p) {
    cuda::train_gru_epochs_on_gpu(run, p);
    ++*gpu_runs;
  };
  const auto gpu = host::compress(recording, out / "gpu.spikey", options);
  EXPECT_GT(*gpu_runs, 0) << "the GPU trainer never ran";
  EXPECT_EQ(gpu.codec, format::kCodecMo3);
  EXPECT_TRUE(gpu.verified);
  EXPECT_EQ(test::read_file(out / "cpu.spikey"), test::read_file(out / "gpu.spikey"));
}

// Both trainers on a few batches: small enough for compute-sanitizer's memcheck and racecheck
// (scripts/device_check.sh runs them on this test).
TEST(GpuTrainers, SmallRunsGiveTheCpuWeights) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  const auto set = test::cinpla_relu_training_set(3 * host::kGruWindow);
  for (const bool quantized : {false, true}) {
    std::vector<std::uint32_t> relu_order, gru_order;
    const auto relu = training_run<host::ReluEpochs>(set, 4, 1, quantized, set.y.size(), 7, relu_order);
    auto cpu = initial_parameters(relu.layout, 11);
    auto gpu = cpu;
    host::train_relu_epochs_on_cpu(relu, cpu);
    cuda::train_relu_epochs_on_gpu(relu, gpu);
    EXPECT_TRUE(same_bits(cpu, gpu)) << "ReLU, quantized " << quantized;

    const auto gru = training_run<host::GruEpochs>(set, 2, 1, quantized, 3, 8, gru_order);
    auto gru_cpu = uniform_parameters(gru.layout.size(), 13);
    auto gru_gpu = gru_cpu;
    host::train_gru_epochs_on_cpu(gru, gru_cpu, 1);
    cuda::train_gru_epochs_on_gpu(gru, gru_gpu);
    EXPECT_TRUE(same_bits(gru_cpu, gru_gpu)) << "GRU, quantized " << quantized;
  }
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

// The least-squares pass of the MiddleOut trainer, the topology's block sums and the signature
// correlations (training_batch.hpp), the network's candidate costs and the context model's counts through the
// GPU's prediction stages: the CPU executors' sums, bits, costs and counts in every batch of a
// training pass (bundled cinpla with wavelet features and sources, chunks that are not whole sample
// blocks; the bundled Neuralink files, channels of different lengths), and the same archive
// bytes when the encoder trains through them.
namespace {

void expect_gpu_training_passes(const std::string& name, const std::vector<std::filesystem::path>& inputs, host::InputOptions input,
                            host::EncodeOptions options) {
  test::TempDir out;
  const auto recording = host::Recording::open(inputs, input, [](const std::string&) {});
  options.overwrite = true;
  options.threads = 2;
  host::compress(recording, out / "cpu.spikey", options);
  auto executor = std::make_shared<cuda::NormalSumsExecutor>();
  std::size_t batches = 0;
  double cpu_seconds = 0, kernel_seconds = 0;
  options.mo_training.normal_sums = [&](host::NormalSumsBatch& batch) {
    host::NormalSumsBatch cpu = batch;
    const auto started = std::chrono::steady_clock::now();
    host::run_normal_sums_on_cpu(cpu, 2);
    cpu_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    double seconds = 0;
    executor->run(batch, &seconds);
    kernel_seconds += seconds;
    ASSERT_EQ(batch.sums.size(), cpu.sums.size());
    EXPECT_TRUE(batch.sums == cpu.sums) << "batch " << batches << ": GPU sums differ from the CPU executor's";
    ++batches;
  };
  std::size_t correlation_jobs = 0;
  double correlation_cpu = 0, correlation_kernel = 0;
  const auto correlations = [&](host::SignatureCorrelations& job) {
    host::SignatureCorrelations cpu = job;
    const auto started = std::chrono::steady_clock::now();
    host::training::run_correlations_on_cpu(cpu, 2);
    correlation_cpu += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    double seconds = 0;
    cuda::correlate_signatures_on_gpu(job, &seconds);
    correlation_kernel += seconds;
    ASSERT_EQ(job.upper.size(), cpu.upper.size());
    EXPECT_EQ(std::memcmp(job.upper.data(), cpu.upper.data(), cpu.upper.size() * sizeof(float)), 0) << "GPU correlations differ from the CPU's";
    ++correlation_jobs;
  };
  options.mo_training.correlations = correlations;
  options.training.correlations = correlations;
  auto encoder = std::make_shared<cuda::BatchEncoder>();
  // The batches gathered into the encoder's page-locked pool, as the CLI does: uploaded from where
  // they lie (the CPU references read the same memory).
  options.mo_training.sample_memory = encoder->memory();
  options.cm_training.sample_memory = encoder->memory();
  std::size_t predictions = 0;
  options.mo_training.batch_predictor = [&](host::BatchPlan& plan, std::span<const std::int16_t> samples) {
    host::BatchPlan cpu = plan;
    host::predict_batch_on_cpu(cpu, samples, 2);
    encoder->predict(plan, samples);
    ASSERT_EQ(plan.streams.size(), cpu.streams.size());
    for (std::size_t i = 0; i < plan.streams.size(); ++i)
      ASSERT_TRUE(plan.streams[i].folded_sum[0] == cpu.streams[i].folded_sum[0] && plan.streams[i].adapt == cpu.streams[i].adapt)
          << "stream " << i << ": GPU prediction cost " << plan.streams[i].folded_sum[0] << ", CPU " << cpu.streams[i].folded_sum[0];
    ++predictions;
  };
  std::size_t block_sum_runs = 0;
  options.mo_training.block_sums = [&](host::BatchPlan& plan, std::span<const std::int16_t> samples, host::BlockSums& sums) {
    host::BlockSums cpu = sums;
    host::block_sums_on_cpu(plan, samples, 2, cpu);
    executor->block_sums(plan, samples, sums);
    EXPECT_TRUE(sums.offset == cpu.offset && sums.sums == cpu.sums) << "GPU block sums differ from the CPU's";
    ++block_sum_runs;
  };
  std::size_t count_runs = 0;
  options.cm_training.context_counts = [&](host::BatchPlan& plan, std::span<const std::int16_t> samples, host::ContextCounts& counts) {
    host::BatchPlan cpu_plan = plan;
    host::ContextCounts cpu = counts;
    host::count_context_on_cpu(cpu_plan, samples, 2, cpu);
    encoder->count_context(plan, samples, counts);
    EXPECT_TRUE(counts.magnitudes == cpu.magnitudes && counts.codes == cpu.codes) << "GPU context counts differ from the CPU's";
    for (std::size_t i = 0; i < plan.streams.size(); ++i) EXPECT_EQ(plan.streams[i].adapt, cpu_plan.streams[i].adapt) << "stream " << i;
    ++count_runs;
  };
  host::compress(recording, out / "gpu.spikey", options);
  if (options.level != "fast") EXPECT_GT(predictions, 0u) << "the network's candidates never ran through the GPU's prediction";
  if (options.level != "fast") EXPECT_GT(count_runs, 0u) << "the context model never counted on the GPU";
  if (options.level != "fast") EXPECT_GT(block_sum_runs, 0u) << "the topology's block sums never ran on the GPU";
  if (options.level != "fast") EXPECT_GT(batches, 0u) << "the GPU least-squares executor never ran";
  EXPECT_GT(correlation_jobs, 0u) << "the GPU correlations never ran";
  ::testing::Test::RecordProperty("correlation_seconds_cpu_gpu_" + name, std::to_string(correlation_cpu) + " " + std::to_string(correlation_kernel));
  EXPECT_EQ(test::read_file(out / "cpu.spikey"), test::read_file(out / "gpu.spikey"));
  ::testing::Test::RecordProperty("normal_sums_seconds_cpu_gpu_" + name, std::to_string(cpu_seconds) + " " + std::to_string(kernel_seconds));
}

}  // namespace

// The small run (compute-sanitizer's memcheck and racecheck run this one): level default on the
// bundled cinpla sample.
TEST(GpuTrainingPasses, SmallRunGivesTheCpuResults) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  host::EncodeOptions options;
  options.chunk_seconds = 0.05;
  expect_gpu_training_passes("cinpla", {test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, {32u, 30000.0}, options);
}

// Wavelet features, the bundled Neuralink files, level fast (lpc1's source choice) and level max
// (the GRU's candidates: per-stream prediction, fold_kernel).
TEST(GpuTrainingPasses, EveryPassAtEveryLevel) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  const auto cinpla = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  host::EncodeOptions options;
  options.chunk_seconds = 0.05;
  options.mo_training.wavelet_levels = 3;
  options.mo_training.wavelet_min_saving = 0;
  expect_gpu_training_passes("cinpla_wavelets", {cinpla}, {32u, 30000.0}, options);
  expect_gpu_training_passes("neuralink_sample", {test::samples_dir() / "neuralink"}, {}, host::EncodeOptions{});
  host::EncodeOptions fast;
  fast.level = "fast";
  expect_gpu_training_passes("cinpla_fast", {cinpla}, {32u, 30000.0}, fast);
  host::EncodeOptions max;
  max.level = "max";
  max.chunk_seconds = 0.05;
  expect_gpu_training_passes("cinpla_max", {cinpla}, {32u, 30000.0}, max);
}

// Real recordings at the full training budget: the device bundle's Neuralink files (or
// ../shared/data's), one archive.
TEST(GpuTrainingPasses, SameResultsOnRealRecordings) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  const char* bundled = std::getenv("SPIKEY_DEVICE_DATA");
  const auto neuralink = bundled != nullptr ? std::filesystem::path(bundled) : test::shared_data_dir() / "neuralink";
  SPIKEY_REQUIRE_GPU_DATA_OR_SKIP(neuralink);
  expect_gpu_training_passes("neuralink", {neuralink}, {}, host::EncodeOptions{});
}
