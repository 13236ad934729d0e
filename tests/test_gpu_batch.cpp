// The CUDA encoder writes the same archive bytes as the CPU encoder, for codecs lpc1, mo1-mo3
// and mt1-mt3, on real data at awkward sizes (label gpu: skipped without a device, a failure with SPIKEY_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <cstdlib>

#include <cstring>

#include "gpu_support.hpp"
#include "spikey/cuda/batch_encoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "test_support.hpp"

using namespace spikey;
namespace fs = std::filesystem;

namespace {

// The archive's bytes and the codec the encoder kept.
std::pair<std::vector<std::uint8_t>, std::string> compress_bytes(const std::vector<fs::path>& inputs, const fs::path& archive,
                                                                 host::EncodeOptions options, host::InputOptions input = {}) {
  const auto recording = host::Recording::open(inputs, input, [](const std::string&) {});
  options.overwrite = true;
  options.threads = 4;
  const auto report = host::compress(recording, archive, options);  // verify-after-encode on: the CPU decoder checks the GPU's bytes
  EXPECT_TRUE(report.verified);
  if (options.batch_executor) {  // the GPU run: every chunk of the kept archive came from the executor
    EXPECT_EQ(report.batch_chunks, report.chunks) << "chunks encoded on the GPU";
    EXPECT_EQ(report.backend, options.backend);
  }
  return {test::read_file(archive), report.codec};
}

host::EncodeOptions at_level(const std::string& level, double chunk_seconds = 1.0) {
  host::EncodeOptions options;
  options.level = level;
  options.chunk_seconds = chunk_seconds;
  return options;
}

// Returns the codec of the GPU's archive. The batches are gathered into the encoder's page-locked
// pool, as the CLI does (uploaded from where they lie), or with `pooled` false into the heap
// (copied into a staging buffer first).
std::string expect_gpu_parity(const std::vector<fs::path>& inputs, host::EncodeOptions options = at_level("fast"), host::InputOptions input = {},
                              std::uint64_t batch_bytes = 64 << 20, bool pooled = true) {
  test::TempDir out;
  const auto [reference, reference_codec] = compress_bytes(inputs, out / "cpu.spikey", options, input);
  auto encoder = std::make_shared<cuda::BatchEncoder>();
  auto gpu_chunks = std::make_shared<std::uint64_t>(0);
  auto kernel_seconds = std::make_shared<double>(0);
  options.batch_executor = [encoder, gpu_chunks, kernel_seconds](host::BatchPlan& plan, std::span<const std::int16_t> samples) {
    auto words = encoder->encode(plan, samples);
    *gpu_chunks += plan.chunk_count();
    *kernel_seconds += encoder->last_timing().kernel_seconds;
    return words;
  };
  options.batch_memory_bytes = batch_bytes;
  options.backend = "cuda";
  if (pooled) options.batch_sample_memory = encoder->memory();
  const auto [gpu, codec] = compress_bytes(inputs, out / "gpu.spikey", options, input);
  EXPECT_GT(encoder->memory()->counts().made, 0u) << "the words never came from the encoder's pool";
  EXPECT_EQ(encoder->memory()->counts().in_use, 0u) << "blocks of the encoder's pool never given back";
  EXPECT_GT(*gpu_chunks, 0u) << "the CUDA encoder never ran";
  EXPECT_GT(*kernel_seconds, 0.0) << "no kernel time recorded: the CUDA encoder did not run its kernels";
  EXPECT_EQ(codec, reference_codec);
  EXPECT_EQ(gpu.size(), reference.size());
  EXPECT_TRUE(gpu == reference) << "GPU and CPU archives differ";
  return codec;
}

}  // namespace

TEST(GpuEncoder, ParityOnTheBundledSample) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  expect_gpu_parity({test::samples_dir() / "neuralink"});
  expect_gpu_parity({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, at_level("fast"), {32u, 30000.0});
  // Samples from outside the encoder's pool: staged before their upload.
  expect_gpu_parity({test::samples_dir() / "neuralink"}, at_level("fast"), {}, 64 << 20, false);
  expect_gpu_parity({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, at_level("default", 0.05), {32u, 30000.0}, 1, false);
  // The adapting variants a stream per half warp (lpc1 and level default's MiddleOut codecs, the
  // network's units over the lanes too) and, for lpc1, a stream per thread: the same bytes.
  for (const char* form : {"half_warp", "thread"}) {
    ::setenv("SPIKEY_GPU_ADAPT", form, 1);
    expect_gpu_parity({test::samples_dir() / "neuralink"});
    expect_gpu_parity({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, at_level("fast"), {32u, 30000.0});
    expect_gpu_parity({test::samples_dir() / "neuralink"}, at_level("default"));
    expect_gpu_parity({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, at_level("default", 0.05), {32u, 30000.0});
  }
  ::unsetenv("SPIKEY_GPU_ADAPT");
}

TEST(GpuEncoder, ParityAtAwkwardSizes) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  test::TempDir dir;
  test::write_file(dir / "one.wav", test::make_wav(1, 1000, {-7}));
  expect_gpu_parity({dir / "one.wav"});  // 1 channel, 1 sample
  std::vector<fs::path> files;
  for (std::size_t n : {999u, 1000u, 1001u, 2001u}) {  // chunk length +-1 at 1 s chunks
    files.push_back(dir / ("len" + std::to_string(n) + ".wav"));
    test::write_file(files.back(), test::make_wav(1, 1000, test::synthetic_signal(n, static_cast<std::uint32_t>(n))));
  }
  expect_gpu_parity(files);
  expect_gpu_parity(files, at_level("fast"), {}, 1);  // one chunk per batch
  // 1024 channels built from the real 32-channel sample.
  const auto raw = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto* samples = reinterpret_cast<const std::int16_t*>(raw.data());
  std::vector<std::int16_t> wide;
  for (std::size_t t = 0; t < 150; ++t)
    for (std::size_t c = 0; c < 1024; ++c) wide.push_back(samples[((c / 32) * 150 + t) * 32 + c % 32]);
  test::write_file(dir / "wide.wav", test::make_wav(1024, 30000, wide));
  expect_gpu_parity({dir / "wide.wav"}, at_level("fast", 0.0022));
  auto mo = at_level("default", 0.0022);
  mo.codec = "mo1";
  mo.mo_training.network_hidden = 0;
  expect_gpu_parity({dir / "wide.wav"}, mo);  // mo1: topology, MiddleOut sources and chains
}

// Level default's codecs: wavelet features, MiddleOut sources, the network stage (mo2, mo3), and
// sources that end before the channels drawing on them.
TEST(GpuEncoder, ParityForTheMiddleOutCodecs) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  const fs::path cinpla = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  auto options = at_level("default", 0.05);
  options.codec = "mo1";  // mo2 where the network helps
  expect_gpu_parity({cinpla}, options, {32u, 30000.0});
  expect_gpu_parity({cinpla}, options, {32u, 30000.0}, 1);  // one chunk per batch
  auto gru = options;
  gru.mo_training.network_projector = "gru";
  gru.mo_training.gru_hidden = 6;
  expect_gpu_parity({cinpla}, gru, {32u, 30000.0});  // mo3
  // 20 hidden units: in the half-warp form some lanes hold a second unit, the others one.
  auto wider = options;
  wider.mo_training.network_hidden = 20;
  for (const char* form : {"warp", "half_warp"}) {
    ::setenv("SPIKEY_GPU_ADAPT", form, 1);
    expect_gpu_parity({cinpla}, wider, {32u, 30000.0});
  }
  ::unsetenv("SPIKEY_GPU_ADAPT");
  options.mo_training.network_hidden = 0;
  options.mo_training.wavelet_min_saving = 0;
  expect_gpu_parity({cinpla}, options, {32u, 30000.0});
  expect_gpu_parity({cinpla}, at_level("default", 0.05), {32u, 30000.0});  // the level's race
  test::TempDir dir;
  const auto raw = test::read_file(cinpla);
  const auto* samples = reinterpret_cast<const std::int16_t*>(raw.data());
  std::vector<fs::path> files;
  for (std::size_t c = 0; c < 4; ++c) {
    std::vector<std::int16_t> channel(6000 - 1500 * c);
    for (std::size_t t = 0; t < channel.size(); ++t) channel[t] = samples[t * 32 + c];
    files.push_back(dir / ("ch" + std::to_string(c) + ".wav"));
    test::write_file(files.back(), test::make_wav(1, 30000, channel));
  }
  options = at_level("default", 0.04);
  options.codec = "mo1";
  expect_gpu_parity(files, options);
}

// Level default's table coder (mt1-mt3): segments of the default size and of a few hundred
// residuals, one chunk per batch, either projector, and streams of 1 and 2 samples.
TEST(GpuEncoder, ParityForTheTableCoder) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  const fs::path cinpla = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  const auto options = at_level("default", 0.05);
  EXPECT_EQ(expect_gpu_parity({cinpla}, options, {32u, 30000.0}), "mt2");
  auto segments = options;
  segments.partition_size = 333;
  EXPECT_EQ(expect_gpu_parity({cinpla}, segments, {32u, 30000.0}, 1), "mt2");  // one chunk per batch
  auto gru = segments;
  gru.mo_training.network_projector = "gru";
  gru.mo_training.gru_hidden = 6;
  EXPECT_EQ(expect_gpu_parity({cinpla}, gru, {32u, 30000.0}), "mt3");
  test::TempDir dir;
  test::write_file(dir / "one.wav", test::make_wav(1, 1000, {-7}));
  test::write_file(dir / "two.wav", test::make_wav(1, 1000, {3, -2}));
  test::write_file(dir / "long.wav", test::make_wav(1, 1000, test::synthetic_signal(2500, 7)));
  auto awkward = at_level("default", 1.0);
  awkward.partition_size = 100;
  expect_gpu_parity({dir / "one.wav", dir / "two.wav", dir / "long.wav"}, awkward);
}

// Every codec of the CUDA encoder on a few real channels: small enough for compute-sanitizer's
// memcheck and racecheck (scripts/device_check.sh runs them on this test).
TEST(GpuEncoder, SmallParityForEveryCodec) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  test::TempDir dir;
  test::write_cinpla_slice(dir / "slice.dat", 8, 1500);
  const host::InputOptions input{8u, 30000.0};
  EXPECT_EQ(expect_gpu_parity({dir / "slice.dat"}, at_level("fast", 0.01), input), "lpc1");
  auto mo = at_level("default", 0.01);
  mo.codec = "mo1";
  mo.mo_training.network_hidden = 0;
  EXPECT_EQ(expect_gpu_parity({dir / "slice.dat"}, mo, input), "mo1");
  mo.mo_training = {};
  mo.mo_training.network_min_saving = -1;  // every channel takes the network stage
  EXPECT_EQ(expect_gpu_parity({dir / "slice.dat"}, mo, input), "mo2");
  mo.mo_training.network_projector = "gru";
  mo.mo_training.gru_hidden = 2;
  EXPECT_EQ(expect_gpu_parity({dir / "slice.dat"}, mo, input), "mo3");
  auto mt = at_level("default", 0.01);
  mt.partition_size = 64;
  mt.mo_training.network_hidden = 0;
  EXPECT_EQ(expect_gpu_parity({dir / "slice.dat"}, mt, input), "mt1");
  mt.mo_training = {};
  mt.mo_training.network_min_saving = -1;
  EXPECT_EQ(expect_gpu_parity({dir / "slice.dat"}, mt, input), "mt2");
  mt.mo_training.network_projector = "gru";
  mt.mo_training.gru_hidden = 2;
  EXPECT_EQ(expect_gpu_parity({dir / "slice.dat"}, mt, input), "mt3");
}

TEST(GpuEncoder, ParityOnAllNeuralinkFiles) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  const fs::path data = std::getenv("SPIKEY_DEVICE_DATA") ? fs::path(std::getenv("SPIKEY_DEVICE_DATA")) : test::shared_data_dir() / "neuralink";
  SPIKEY_REQUIRE_GPU_DATA_OR_SKIP(data);
  expect_gpu_parity({data}, at_level("fast"), {}, 256 << 20);
  expect_gpu_parity({data}, at_level("default"), {}, 256 << 20);
}
