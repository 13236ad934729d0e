// The trainers' passes of training_batch.hpp and the network's candidate gains through the batch
// encoder's prediction stages (the CUDA training executors' algorithms) run by the CPU
// executors: the MiddleOut least-squares sums equal a sample-by-sample reference, the signature
// correlations the trainer's own bits, and an encoder that trains through them writes the same
// archive bytes as one that trains with its own passes: on real data, with sources that
// end early, wavelet features, chunks that are not whole blocks, 1024 channels, levels fast,
// default and max.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "codecs/mo/mo_chunk_residuals.hpp"
#include "codecs/mo/normal_sums.hpp"
#include "codecs/training_common.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/format/codecs/stored_models.hpp"
#include "spikey/host/batch_encoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "test_support.hpp"

using namespace spikey;
namespace fs = std::filesystem;

namespace {

// Streams of a batch checked against the reference: all of them, or under the sanitizers (where
// the reference's billions of checked reads take minutes) the first few of each batch.
#ifdef SPIKEY_SANITIZED_BUILD
constexpr std::size_t kReferenceStreams = 4;
constexpr bool kSanitized = true;  // the direct comparisons run one model each (the GRU and level max: the regular build)
#else
constexpr std::size_t kReferenceStreams = SIZE_MAX;
constexpr bool kSanitized = false;
#endif

// Every sum of every stream, sample by sample and pair by pair, from the same stages 1-2a'.
void expect_sums_equal_reference(const host::NormalSumsBatch& batch) {
  const std::uint64_t stride = batch.samples.size();
  std::vector<std::int32_t> codes(stride);
  std::vector<std::int16_t> diffs(stride);
  std::vector<std::int16_t> planes(2 * static_cast<std::uint64_t>(batch.wavelet_levels) * stride);
  for (const auto& s : batch.streams) {
    for (std::uint32_t t = 0; t < s.n; ++t) format::batch_map_sample(s, t, batch.samples.data(), codes.data());
    for (std::uint32_t t = 0; t < s.n; ++t) format::batch_clamped_difference(s, t, codes.data(), diffs.data());
  }
  for (const auto& s : batch.streams)
    for (int level = 1; level <= s.wavelet_levels; ++level)
      for (std::uint32_t tau = 0; tau < s.n; ++tau) format::batch_wavelet_level(s, level, tau, diffs.data(), planes.data(), stride);
  ASSERT_EQ(batch.sums.size(), batch.sums_offset.back());
  for (std::size_t i = 0; i < std::min(batch.streams.size(), kReferenceStreams); ++i) {
    const auto& s = batch.streams[i];
    const auto m = format::normal_model(s);
    const int size = format::normal_size(s);
    std::uint32_t term = 0;
    for (int a = 0; a < size; ++a)
      for (int b = a; b < size; ++b, ++term) {
        std::int64_t sum = 0;
        for (std::uint32_t t = 1; t < s.n; ++t)
          sum += std::int64_t{format::normal_value(m, s, batch.streams.data(), t, diffs.data(), planes.data(), stride, a)} *
                 format::normal_value(m, s, batch.streams.data(), t, diffs.data(), planes.data(), stride, b);
        ASSERT_EQ(batch.sums[batch.sums_offset[i] + term], sum) << "stream " << i << " (channel " << batch.channel[i] << "), pair " << a << ", " << b;
      }
  }
}

struct Trained {
  std::vector<std::uint8_t> bytes;
  format::Metadata meta;
};

Trained compress_with(const std::vector<fs::path>& inputs, host::InputOptions input, host::EncodeOptions options, const fs::path& archive) {
  const auto recording = host::Recording::open(inputs, input, [](const std::string&) {});
  options.overwrite = true;
  options.threads = 2;
  host::compress(recording, archive, options);
  return {test::read_file(archive), format::ArchiveReader(archive).metadata()};
}

// The correlations of a job through the CPU executor, checked bit for bit against the trainer's
// own (host::training::correlate without an executor).
void run_and_check_correlations(host::SignatureCorrelations& job) {
  host::training::run_correlations_on_cpu(job, 2);
  std::vector<std::vector<float>> unit(job.channels);
  for (std::uint32_t c = 0; c < job.channels; ++c)
    unit[c].assign(job.unit.begin() + static_cast<std::ptrdiff_t>(c * job.length), job.unit.begin() + static_cast<std::ptrdiff_t>((c + 1) * job.length));
  const auto own = host::training::correlate(unit, 1);
  ASSERT_EQ(job.upper.size(), std::uint64_t{job.channels} * (job.channels - 1) / 2);
  for (std::uint32_t c = 0; c < job.channels; ++c)
    for (std::uint32_t s = c + 1; s < job.channels; ++s) {
      const float mine = job.upper[format::signature_pair_index(job.channels, c, s)];
      ASSERT_EQ(std::memcmp(&mine, &own.upper[c][s - c], sizeof(float)), 0) << "pair " << c << ", " << s << ": " << mine << " vs " << own.upper[c][s - c];
    }
}

// Archive bytes with the trainer's own passes and through the CPU executors (each batch also
// checked against the reference when `check_sums`): identical. Returns the metadata.
format::Metadata expect_same_training(const std::vector<fs::path>& inputs, host::InputOptions input, host::EncodeOptions options,
                                      bool check_sums = true) {
  test::TempDir out;
  const Trained own = compress_with(inputs, input, options, out / "own.spikey");
  std::size_t batches = 0, streams = 0, correlation_jobs = 0, predictions = 0, counted = 0, block_sum_runs = 0;
  // Every executor's batch gathered into the executors' pool (the CUDA executors': page-locked).
  const auto pool = std::make_shared<host::HeapMemoryPool>();
  options.mo_training.sample_memory = pool;
  options.cm_training.sample_memory = pool;
  std::size_t outside_pool = 0;
  const auto from_pool = [&](std::span<const std::int16_t> samples) { outside_pool += !pool->owns(samples.data(), samples.size_bytes()); };
  options.mo_training.block_sums = [&](host::BatchPlan& plan, std::span<const std::int16_t> samples, host::BlockSums& sums) {
    from_pool(samples);
    host::block_sums_on_cpu(plan, samples, 2, sums);
    ++block_sum_runs;
  };
  options.cm_training.context_counts = [&](host::BatchPlan& plan, std::span<const std::int16_t> samples, host::ContextCounts& counts) {
    from_pool(samples);
    host::count_context_on_cpu(plan, samples, 2, counts);
    ++counted;
  };
  options.mo_training.batch_predictor = [&](host::BatchPlan& plan, std::span<const std::int16_t> samples) {
    from_pool(samples);
    host::predict_batch_on_cpu(plan, samples, 2);
    ++predictions;
  };
  const auto correlations = [&](host::SignatureCorrelations& job) {
    run_and_check_correlations(job);
    ++correlation_jobs;
  };
  options.mo_training.correlations = correlations;
  options.training.correlations = correlations;
  options.mo_training.normal_sums = [&](host::NormalSumsBatch& batch) {
    from_pool(batch.samples);
    host::run_normal_sums_on_cpu(batch, 2);
    if (check_sums) expect_sums_equal_reference(batch);
    ++batches;
    streams += batch.streams.size();
  };
  const Trained batched = compress_with(inputs, input, options, out / "batched.spikey");
  if (options.level != "fast") {
    EXPECT_GT(batches, 0u) << "the trainer never ran the least-squares executor";
    EXPECT_GT(streams, 0u);
  }
  EXPECT_GT(correlation_jobs, 0u) << "the trainer never ran the correlation executor";
  if (options.level != "fast") EXPECT_GT(counted, 0u) << "the context model never counted through the batch stages";
  if (options.level != "fast") EXPECT_GT(block_sum_runs, 0u) << "the topology's signatures never went through the executor";
  if (options.level != "fast" && options.mo_training.network_hidden > 0)
    EXPECT_GT(predictions, 0u) << "the network stage never ran its candidates through the batch predictor";
  EXPECT_EQ(outside_pool, 0u) << "a training batch was not gathered into the executors' pool";
  if (options.level != "fast") EXPECT_GT(pool->counts().made, 0u);
  EXPECT_EQ(pool->counts().in_use, 0u) << "a training batch's memory was never given back";
  EXPECT_EQ(batched.bytes.size(), own.bytes.size());
  EXPECT_TRUE(batched.bytes == own.bytes) << "training through the executor changed the archive";
  return batched.meta;
}

host::EncodeOptions level_default(double chunk_seconds) {
  host::EncodeOptions options;
  options.level = "default";
  options.chunk_seconds = chunk_seconds;
  return options;
}

}  // namespace

TEST(TrainingBatch, TermPairsCoverTheUpperTriangleRowByRow) {
  for (int size : {1, 2, 5, format::kMaxNormalSize}) {
    std::uint32_t term = 0;
    for (int a = 0; a < size; ++a)
      for (int b = a; b < size; ++b, ++term) {
        int x = -1, y = -1;
        format::normal_term_pair(size, term, x, y);
        ASSERT_EQ(x, a) << "size " << size << " term " << term;
        ASSERT_EQ(y, b) << "size " << size << " term " << term;
      }
    EXPECT_EQ(term, format::normal_terms(size));
  }
}

// Cinpla's 32 channels: sources across channels, the network stage, chunks of 1500 samples
// (not whole blocks of 64), with and without wavelet features, several chunks per batch.
TEST(TrainingBatch, SameArchiveOnTheBundledMultichannelSample) {
  const fs::path cinpla = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  const host::InputOptions raw{32u, 30000.0};
  const auto meta = expect_same_training({cinpla}, raw, level_default(0.05));
  EXPECT_TRUE(std::ranges::any_of(meta.channels, [](const auto& c) { return !c.predictor.sources.empty(); }));
  auto wavelets = level_default(0.05);
  wavelets.mo_training.wavelet_levels = 3;
  wavelets.mo_training.wavelet_min_saving = 0;  // wavelet features wherever they help at all
  wavelets.mo_training.network_hidden = 0;      // the network stage was in the first run
  const auto with_wavelets = expect_same_training({cinpla}, raw, wavelets);
  EXPECT_TRUE(std::ranges::any_of(with_wavelets.channels, [](const auto& c) { return !c.predictor.wavelet_weights.empty(); }));
}

// Channels that end at different times (a source absent from a channel's later chunks, partial
// last chunks) and level max, which trains the same predictors.
TEST(TrainingBatch, SameArchiveWhenSourcesEndAndAtLevelMax) {
  test::TempDir dir;
  const auto raw = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto* samples = reinterpret_cast<const std::int16_t*>(raw.data());
  std::vector<fs::path> files;
  for (std::size_t c = 0; c < 4; ++c) {
    const std::size_t n = 6000 - 1500 * c - 7 * c;
    std::vector<std::int16_t> channel(n);
    for (std::size_t t = 0; t < n; ++t) channel[t] = samples[t * 32 + c];
    files.push_back(dir / ("ch" + std::to_string(c) + ".wav"));
    test::write_file(files.back(), test::make_wav(1, 30000, channel));
  }
  expect_same_training(files, {}, level_default(0.04));
  auto max = level_default(0.04);
  max.level = "max";
  expect_same_training(files, {}, max);
}

// The three bundled Neuralink files in one archive (channels of different lengths).
TEST(TrainingBatch, SameArchiveOnTheBundledNeuralinkFiles) { expect_same_training({test::samples_dir() / "neuralink"}, {}, level_default(1.0)); }

// Real recordings at the trainer's full budget: cinpla's whole file, and 40 Neuralink files.
TEST(TrainingBatch, SameArchiveOnRealRecordings) {
  SPIKEY_SKIP_CORPUS_WIDE_IN_SANITIZED_BUILD();
  SPIKEY_REQUIRE_SHARED("cinpla_oebin32/continuous.dat");
  SPIKEY_REQUIRE_SHARED("neuralink");
  expect_same_training({test::shared_data_dir() / "cinpla_oebin32" / "continuous.dat"}, {32u, 30000.0}, level_default(1.0), false);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(test::shared_data_dir() / "neuralink"))
    if (entry.path().extension() == ".wav") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  files.resize(std::min<std::size_t>(files.size(), 40));
  expect_same_training(files, {}, level_default(1.0), false);
}

// 1024 channels from the real 32-channel sample (each real channel at 32 time offsets), three
// chunks: the topology's correlations over half a million pairs, chains of sources, level fast's
// source choice.
TEST(TrainingBatch, SameArchiveWithManyChannels) {
  test::TempDir dir;
  test::write_wide_sample_wav(dir / "wide.wav", 187);
  auto options = level_default(0.0022);  // 66 samples per chunk
  options.mo_training.network_hidden = 0;  // short: the network's training is not what this tests
  const auto meta = expect_same_training({dir / "wide.wav"}, {}, options, false);
  EXPECT_TRUE(std::ranges::any_of(meta.channels, [](const auto& c) { return !c.predictor.sources.empty(); }));
  auto fast = level_default(0.0022);
  fast.level = "fast";
  expect_same_training({dir / "wide.wav"}, {}, fast, false);
}

// The network's candidate costs through the batch predictor equal the lockstep kernels' (the
// trainer's own pass), channel by channel: the recording's trained network (the ReLU layer, then
// the GRU, whose state runs through each stream) at the channels' gains, at other gains, and
// without it. (The archives alone could not show a wrong cost that happens to pick the same gain.)
TEST(TrainingBatch, CandidateCostsEqualTheLockstepKernels) {
  for (const std::string projector : kSanitized ? std::vector<std::string>{"mlp"} : std::vector<std::string>{"mlp", "gru"}) {
    SCOPED_TRACE(projector);
    test::TempDir dir;
    const fs::path cinpla = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
    const auto recording = host::Recording::open({cinpla}, {32u, 30000.0}, [](const std::string&) {});
    auto options = level_default(0.05);
    options.overwrite = true;
    options.threads = 2;
    options.mo_training.network_projector = projector;
    host::compress(recording, dir / "a.spikey", options);
    const format::Metadata meta = format::ArchiveReader(dir / "a.spikey").metadata();
    ASSERT_TRUE(meta.codec.network.has_value()) << meta.codec.name;
    const format::MoNetwork& network = *meta.codec.network;
    EXPECT_EQ(network.projector == format::NetProjector::kGru, projector == "gru") << meta.codec.name;
    std::vector<std::uint64_t> chunks;
    for (std::uint64_t chunk = 0; chunk < meta.chunk_count(); chunk += 2) chunks.push_back(chunk);  // not contiguous
    const auto samples = host::gather_chunks(recording, meta, chunks, 2);
    const std::size_t channels = meta.channels.size();
    std::size_t checked = 0, with_network = 0;
    for (const double scale : {0.0, 1.0, 1.5}) {
      std::vector<std::int32_t> in(channels, 0), out(channels, 0);
      for (std::size_t c = 0; c < channels; ++c) {
        const auto& p = meta.channels[c].predictor;
        in[c] = p.network_input_gain != 0 ? p.network_input_gain : 256;
        out[c] = static_cast<std::int32_t>(std::lround(scale * (p.network_output_gain != 0 ? p.network_output_gain : 64)));
      }
      const host::NetworkCandidate candidate{scale == 0 ? nullptr : &network, in, out};
      auto plan = host::plan_training_batch(meta, chunks, &candidate);
      ASSERT_EQ(plan.samples, samples.size());
      host::predict_batch_on_cpu(plan, samples, 2);
      for (std::size_t i = 0; i < chunks.size(); ++i) {
        format::ChunkChannels present;
        const auto codes = host::training::chunk_codes(recording, meta, chunks[i], present);
        std::vector<std::size_t> items(present.channel.size());
        for (std::size_t p = 0; p < items.size(); ++p) items[p] = p;
        const auto model_of = [&](std::size_t p) {
          const std::uint32_t c = present.channel[p];
          format::ChannelPredictor predictor = meta.channels[c].predictor;
          predictor.network_input_gain = predictor.network_output_gain = 0;
          format::MoModel model = format::mo_model_of(predictor, meta.codec);
          if (scale != 0 && out[c] != 0) model.network = &network, model.net_input_gain = in[c], model.net_output_gain = out[c];
          return model;
        };
        host::codecs::for_each_fixed_mo_residuals(codes, present, meta, items, model_of, [&](std::size_t p, const std::int32_t* z) {
          const auto& s = plan.streams[plan.chunk_first_stream[i] + p];
          EXPECT_EQ(s.folded_sum[0], format::mo_residual_cost(z, static_cast<std::uint32_t>(codes[p].size())))
              << "chunk " << chunks[i] << ", channel " << present.channel[p] << ", scale " << scale;
          ++checked;
          with_network += s.net_output_gain != 0;
        });
      }
    }
    EXPECT_EQ(checked, 3 * chunks.size() * channels);
    EXPECT_GT(with_network, 0u);
  }
}

// The context model's counts through the batch stages equal those from the lockstep kernels'
// residuals (for_each_mo_residuals, what the trainer reads), bin for bin, and the adapt choices
// agree: level default's model (mt2, the ReLU network) and level max's (the GRU where it wins,
// wavelet features), on chunks that are not contiguous.
TEST(TrainingBatch, ContextCountsEqualTheLockstepKernels) {
  for (const std::string level : kSanitized ? std::vector<std::string>{"default"} : std::vector<std::string>{"default", "max"}) {
    SCOPED_TRACE(level);
    test::TempDir dir;
    const fs::path cinpla = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
    const auto recording = host::Recording::open({cinpla}, {32u, 30000.0}, [](const std::string&) {});
    auto options = level_default(0.05);
    options.level = level;
    options.overwrite = true;
    options.threads = 2;
    host::compress(recording, dir / "a.spikey", options);
    const format::Metadata meta = format::ArchiveReader(dir / "a.spikey").metadata();
    std::vector<std::uint64_t> chunks;
    for (std::uint64_t chunk = 1; chunk < meta.chunk_count(); chunk += 2) chunks.push_back(chunk);
    auto plan = host::plan_training_batch(meta, chunks, nullptr);
    host::ContextCounts counts;
    counts.counted.assign(plan.streams.size(), 1);
    host::count_context_on_cpu(plan, host::gather_chunks(recording, meta, chunks, 2), 2, counts);
    std::vector<std::uint64_t> magnitudes(format::kCountMagnitudeSlots, 0), codes(format::kCountCodeBins, 0);
    std::size_t adapted = 0, streams = 0;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      format::ChunkChannels present;
      const auto chunk_codes = host::training::chunk_codes(recording, meta, chunks[i], present);
      host::codecs::for_each_mo_residuals(chunk_codes, present, meta, [&](std::size_t p, const std::int32_t* z, bool adapt) {
        const auto& c = chunk_codes[p];
        EXPECT_EQ(plan.streams[plan.chunk_first_stream[i] + p].adapt != 0, adapt) << "chunk " << chunks[i] << ", channel " << present.channel[p];
        adapted += adapt;
        ++streams;
        for (const std::int32_t code : c) {
          std::size_t bin = 0;
          if (format::count_code_bin(code, bin)) ++codes[bin];
        }
        for (std::size_t r = 0; r < format::kCountRates; ++r) {
          std::int32_t scale = format::kCmScaleStart;
          for (std::size_t t = 1; t < c.size(); ++t) {
            ++magnitudes[format::count_magnitude_slot(r, scale, z[t])];
            scale = format::cm_next_scale(scale, z[t], format::count_scale_rate(r));
          }
        }
      });
    }
    EXPECT_EQ(streams, plan.streams.size());
    EXPECT_TRUE(counts.magnitudes == magnitudes) << "magnitude histograms differ";
    EXPECT_TRUE(counts.codes == codes) << "code histograms differ";
    EXPECT_GT(adapted, 0u) << "no stream chose its adapting weights: the choice went untested";
  }
}

// The topology from block sums through the executor equals the trainer's own, edge for edge
// (channels, weights to the bit): the bundled multichannel sample with chunks that are not whole
// blocks, and 1024 tiled channels.
TEST(TrainingBatch, TopologyFromBlockSumsEqualsTheTrainers) {
  test::TempDir dir;
  test::write_wide_sample_wav(dir / "wide.wav", 187);
  const std::vector<std::pair<std::vector<fs::path>, host::InputOptions>> inputs = {
      {{test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, {32u, 30000.0}}, {{dir / "wide.wav"}, {}}};
  for (const auto& [paths, input] : inputs) {
    const auto recording = host::Recording::open(paths, input, [](const std::string&) {});
    auto options = level_default(0.0022);
    options.overwrite = true;
    host::compress(recording, dir / "a.spikey", options);
    const format::Metadata meta = format::ArchiveReader(dir / "a.spikey").metadata();
    host::MoTrainingOptions training;
    training.threads = 2;
    const host::Topology own = host::compute_topology(recording, meta, training);
    std::size_t runs = 0;
    training.block_sums = [&](host::BatchPlan& plan, std::span<const std::int16_t> samples, host::BlockSums& sums) {
      host::block_sums_on_cpu(plan, samples, 2, sums);
      ++runs;
    };
    const host::Topology batched = host::compute_topology(recording, meta, training);
    EXPECT_GT(runs, 0u);
    ASSERT_EQ(batched.neighbours.size(), own.neighbours.size());
    std::size_t edges = 0;
    for (std::size_t c = 0; c < own.neighbours.size(); ++c) {
      ASSERT_EQ(batched.neighbours[c].size(), own.neighbours[c].size()) << "channel " << c;
      for (std::size_t k = 0; k < own.neighbours[c].size(); ++k) {
        EXPECT_EQ(batched.neighbours[c][k].channel, own.neighbours[c][k].channel) << "channel " << c;
        EXPECT_EQ(std::memcmp(&batched.neighbours[c][k].weight, &own.neighbours[c][k].weight, sizeof(float)), 0) << "channel " << c;
        ++edges;
      }
    }
    EXPECT_GT(edges, 0u) << "no channel had a neighbour: nothing compared";
  }
}
