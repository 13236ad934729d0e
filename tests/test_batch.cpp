// The batch pipeline of golomb_batch.hpp and mt_batch.hpp (the CUDA encoder's algorithm) run by
// the CPU executor: it must write the same archive bytes as the chunk-by-chunk encoder, at
// awkward sizes and on real data, for codecs lpc1 (level fast), mo1-mo3 and mt1-mt3 (level
// default).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/codecs/batch/golomb_batch.hpp"
#include "spikey/host/batch_encoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/model.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/recording.hpp"
#include "pipeline_verifier.hpp"
#include "test_support.hpp"

using namespace spikey;
namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> compress_bytes(const std::vector<fs::path>& inputs, const fs::path& archive, host::EncodeOptions options,
                                         host::InputOptions input = {}, host::CompressReport* report = nullptr) {
  const auto recording = host::Recording::open(inputs, input, [](const std::string&) {});
  options.overwrite = true;
  options.threads = 2;
  const auto written = host::compress(recording, archive, options);
  if (report != nullptr) *report = written;
  return test::read_file(archive);
}

host::EncodeOptions at_level(const std::string& level, double chunk_seconds = 1.0) {
  host::EncodeOptions options;
  options.level = level;
  options.chunk_seconds = chunk_seconds;
  return options;
}

// The model that compress() trains with `options`. Training runs before any chunk is encoded
// and never reaches the batch stages, so the parity runs train it once and give it to both
// encoders (under the sanitizers, training twice per run took most of this file's minutes).
std::shared_ptr<const host::Model> train_once(const std::vector<fs::path>& inputs, host::EncodeOptions options, host::InputOptions input = {}) {
  const auto recording = host::Recording::open(inputs, input, [](const std::string&) {});
  options.threads = 2;
  const auto surveyed = host::survey_recording(recording, options);
  return std::make_shared<host::Model>(host::train_model(recording, surveyed, options.codec.empty() ? host::codec_for_level(options.level) : options.codec, options));
}

// Archive bytes with the chunk-by-chunk encoder and with the CPU batch executor (small
// batches, so that batch boundaries are crossed), which must be identical; both encode with
// `options.model`, trained here once when it is not given. Returns the archive's metadata.
format::Metadata expect_batch_parity(const std::vector<fs::path>& inputs, host::EncodeOptions options = at_level("fast"),
                                host::InputOptions input = {}, std::uint64_t batch_bytes = 4 << 20,
                                host::AdaptingForm form = host::AdaptingForm::warp) {
  if (!options.model) options.model = train_once(inputs, options, input);
  test::TempDir out;
  const auto reference = compress_bytes(inputs, out / "chunkwise.spikey", options, input);
  options.batch_executor = [form](host::BatchPlan& plan, std::span<const std::int16_t> samples) {
    return host::run_batch_on_cpu(plan, samples, 2, form);
  };
  options.batch_memory_bytes = batch_bytes;
  options.backend = "cpu-batch";
  host::CompressReport report;
  const auto batched = compress_bytes(inputs, out / "batched.spikey", options, input, &report);
  EXPECT_EQ(report.batch_chunks, report.chunks) << "the batch stages did not encode every chunk";
  EXPECT_EQ(batched.size(), reference.size());
  EXPECT_TRUE(batched == reference) << "batch pipeline wrote different bytes";
  return format::ArchiveReader(out / "batched.spikey").metadata();
}

}  // namespace

TEST(BatchPipeline, OrBitsPlacesFieldsAcrossWords) {
  std::vector<std::uint32_t> words(4, 0);
  format::or_bits(words.data(), 30, 0x1FFFFFFFFFFFFFFull, 57);  // 57 ones from bit 30 on
  EXPECT_EQ(words[0], 0xC0000000u);
  EXPECT_EQ(words[1], 0xFFFFFFFFu);
  EXPECT_EQ(words[2], 0x7FFFFFu);  // bits 64..86
  EXPECT_EQ(words[3], 0u);
  format::or_bits(words.data(), 0, 5, 3);
  EXPECT_EQ(words[0], 0xC0000005u);
}

// The report names the backend that really encoded the chunks: the executor's for the codecs it
// covers, "cpu" for level max (no batch stages), whatever was asked.
TEST(BatchPipeline, ReportSaysWhichBackendEncodedTheChunks) {
  const auto recording = host::Recording::open({test::samples_dir() / "neuralink"}, {}, [](const std::string&) {});
  test::TempDir out;
  int calls = 0;
  auto options = at_level("fast", 1.0);
  options.overwrite = true;
  options.batch_executor = [&calls](host::BatchPlan& plan, std::span<const std::int16_t> samples) {
    ++calls;
    return host::run_batch_on_cpu(plan, samples, 1);
  };
  options.backend = "cpu-batch";
  const auto fast = host::compress(recording, out / "fast.spikey", options);
  EXPECT_GT(calls, 0);
  EXPECT_EQ(fast.batch_chunks, fast.chunks);
  EXPECT_EQ(fast.backend, "cpu-batch");
  calls = 0;
  options.level = "max";
  const auto max = host::compress(recording, out / "max.spikey", options);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(max.batch_chunks, 0u);
  EXPECT_EQ(max.backend, "cpu");
}

TEST(BatchPipeline, SameBytesAsTheChunkEncoderOnTheBundledSample) {
  expect_batch_parity({test::samples_dir() / "neuralink"});
  const auto short_chunks = at_level("fast", 0.3);
  expect_batch_parity({test::samples_dir() / "neuralink"}, short_chunks, {}, 1);  // one chunk per batch
  expect_batch_parity({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, short_chunks, {32u, 30000.0});
  // lpc1's adapting variant in the GPU's other forms (half a warp, a thread per stream): the same bytes.
  for (const auto form : {host::AdaptingForm::half_warp, host::AdaptingForm::thread}) {
    expect_batch_parity({test::samples_dir() / "neuralink"}, short_chunks, {}, 4 << 20, form);
    expect_batch_parity({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, short_chunks, {32u, 30000.0}, 4 << 20, form);
  }
}

// The adapting variant's lane forms against the sequential reference on real signals, with the
// most taps lpc1 allows (the third tap of a lane in the half-warp form) and with fewer taps than
// a half warp has lanes: the same residuals and sums.
// Verify-after-encode runs inside the batch pipeline: a payload the executor got wrong fails
// the compress with a VerifyError naming its chunk, and no archive is left.
TEST(BatchPipeline, VerifiesEachBatchAsItIsEncoded) {
  const auto recording = host::Recording::open({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, {32u, 30000.0},
                                               [](const std::string&) {});
  test::TempDir out;
  auto options = at_level("default", 0.05);
  options.threads = 2;
  options.batch_memory_bytes = 1;  // a chunk per batch
  options.backend = "cpu-batch";
  options.batch_executor = [](host::BatchPlan& plan, std::span<const std::int16_t> samples) { return host::run_batch_on_cpu(plan, samples, 2); };
  // Progress, from one thread at a time: the verification's end is shown.
  std::atomic<int> inside{0};
  bool overlapped = false;
  std::uint64_t verified = 0, verify_total = 0;
  options.progress = [&](const std::string& stage, std::uint64_t done, std::uint64_t total) {
    overlapped = overlapped || inside.fetch_add(1) != 0;
    if (stage == "verify") verified = done, verify_total = total;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    inside.fetch_sub(1);
  };
  const auto report = host::compress(recording, out / "good.spikey", options);
  options.progress = nullptr;
  EXPECT_FALSE(overlapped) << "the progress callback was called from two threads at once";
  EXPECT_EQ(verified, report.chunks);
  EXPECT_EQ(verify_total, report.chunks);
  EXPECT_TRUE(report.verified);
  EXPECT_EQ(report.batch_chunks, report.chunks);
  EXPECT_GT(report.chunks, 2u);
  EXPECT_TRUE(std::any_of(report.phase_seconds.begin(), report.phase_seconds.end(),
                          [](const auto& p) { return p.first == "chunks: waiting for verification"; }));

  // A flipped bit in the third batch's first stream, as a faulty device would return it.
  int batch = 0;
  options.batch_executor = [&batch](host::BatchPlan& plan, std::span<const std::int16_t> samples) {
    auto words = host::run_batch_on_cpu(plan, samples, 2);
    if (batch++ == 2) words[plan.streams[0].word_offset + 1] ^= 0x100u;
    return words;
  };
  try {
    host::compress(recording, out / "bad.spikey", options);
    FAIL() << "a wrong payload passed verification";
  } catch (const host::VerifyError& e) {
    EXPECT_NE(std::string(e.what()).find("chunk 2"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(out / "bad.spikey"));
}

// The pipeline gathers each batch into the executor's pool (the CUDA executor's page-locked
// memory, uploaded from where it lies) and every block comes back once its batch is written and
// verified, also when verification fails; the blocks are reused from batch to batch, and the
// archive is the same bytes.
TEST(BatchPipeline, GathersIntoTheExecutorsPoolAndGivesEveryBlockBack) {
  const auto recording = host::Recording::open({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, {32u, 30000.0},
                                               [](const std::string&) {});
  test::TempDir out;
  auto options = at_level("default", 0.005);
  options.threads = 2;
  options.batch_memory_bytes = 1;  // a chunk per batch
  options.batch_executor = [](host::BatchPlan& plan, std::span<const std::int16_t> samples) { return host::run_batch_on_cpu(plan, samples, 2); };
  const auto heap = host::compress(recording, out / "heap.spikey", options);

  const auto pool = std::make_shared<host::HeapMemoryPool>();
  options.batch_sample_memory = pool;
  std::atomic<int> batches{0}, outside{0};
  int flip_batch = -1;
  options.batch_executor = [&](host::BatchPlan& plan, std::span<const std::int16_t> samples) {
    outside += !pool->owns(samples.data(), samples.size_bytes());
    const auto words = host::run_batch_on_cpu(plan, samples, 2);
    host::BatchWords pooled(words.begin(), words.end(), host::PoolAllocator<std::uint32_t>(pool));  // as the CUDA executor's
    if (batches++ == flip_batch) pooled[plan.streams[0].word_offset + 1] ^= 0x100u;
    return pooled;
  };
  const auto report = host::compress(recording, out / "pool.spikey", options);
  EXPECT_EQ(test::read_file(out / "pool.spikey"), test::read_file(out / "heap.spikey"));
  EXPECT_EQ(report.batch_chunks, heap.batch_chunks);
  EXPECT_GE(batches.load(), 30);
  EXPECT_EQ(outside.load(), 0) << "a batch was not gathered into the pool";
  const auto counts = pool->counts();
  EXPECT_EQ(counts.in_use, 0u) << "blocks never given back";
  EXPECT_LT(counts.made, static_cast<std::size_t>(batches.load())) << "the pool made a block for every batch: nothing reused";

  batches = 0;
  flip_batch = 5;
  EXPECT_THROW(host::compress(recording, out / "bad.spikey", options), host::VerifyError);
  EXPECT_EQ(pool->counts().in_use, 0u) << "a failed compress kept blocks";
}

// What the pipeline's verifier checks once the archive is written: the metadata section and
// every payload read back against what it decoded, and the files rebuilt from the samples.
TEST(BatchPipeline, PipelineVerifierChecksTheWrittenArchive) {
  test::TempDir out;
  auto options = at_level("fast", 0.1);
  const auto bytes = compress_bytes({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, out / "a.spikey", options, {32u, 30000.0});
  const format::ArchiveReader reader(out / "a.spikey");
  const std::uint64_t chunks = reader.index().size();
  const auto stored_section = std::span<const std::uint8_t>(bytes).subspan(format::kFileHeaderSize, format::parse_file_header(bytes).metadata_size);
  // A verifier fed with the archive's own payloads and decoded samples (in batches of two chunks).
  const auto fed = [&](const std::function<void(std::vector<std::int16_t>&)>& change) {
    auto verifier = std::make_unique<host::PipelineVerifier>(stored_section, chunks);
    for (std::uint64_t first = 0; first < chunks; first += 2) {
      std::vector<host::EncodedChunk> encoded;
      std::vector<std::int16_t> samples;
      std::vector<std::uint64_t> offset{0};
      for (std::uint64_t c = first; c < std::min(chunks, first + 2); ++c) {
        encoded.push_back({reader.read_payload(c), reader.index()[c].samples_checksum});
        const auto decoded = host::decode_chunk(reader, c);
        samples.insert(samples.end(), decoded.samples.begin(), decoded.samples.end());
        offset.push_back(samples.size());
      }
      verifier->check(first, encoded, samples, offset, 2);
      change(samples);
      verifier->rebuild(first, samples, offset);
    }
    return verifier;
  };
  EXPECT_NO_THROW(fed([](std::vector<std::int16_t>&) {})->verify_written(reader, 2));
  const auto fails_with = [&](const format::ArchiveReader& written, const std::string& why) {
    try {
      fed([](std::vector<std::int16_t>&) {})->verify_written(written, 2);
      ADD_FAILURE() << "passed: " << why;
    } catch (const host::VerifyError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  // A payload changed on its way to the disk.
  auto damaged = bytes;
  damaged[reader.payload_offset(chunks - 1) + 3] ^= 0x40;
  fails_with(format::ArchiveReader(damaged, "damaged"), "chunk " + std::to_string(chunks - 1));
  // Another metadata section (another level's archive of the same recording, the same chunks).
  compress_bytes({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, out / "b.spikey", at_level("default", 0.1), {32u, 30000.0});
  fails_with(format::ArchiveReader(out / "b.spikey"), "metadata section");
  // The samples rebuilt into the file are not the original's.
  try {
    fed([](std::vector<std::int16_t>& samples) { samples[100] ^= 1; })->verify_written(reader, 2);
    FAIL() << "a changed sample rebuilt the original file";
  } catch (const host::VerifyError& e) {
    EXPECT_NE(std::string(e.what()).find("differs from the original"), std::string::npos) << e.what();
  }
}

TEST(BatchPipeline, LaneFormsGiveTheSequentialResiduals) {
  const auto raw = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto* interleaved = reinterpret_cast<const std::int16_t*>(raw.data());
  const std::uint32_t n = static_cast<std::uint32_t>(raw.size() / 2 / 32);
  std::vector<format::BatchStream> streams(3);
  std::vector<std::int32_t> codes(3 * std::size_t{n});
  for (std::uint32_t s = 0; s < 3; ++s) {
    streams[s].sample_offset = std::uint64_t{s} * n;
    streams[s].n = n;
    for (std::uint32_t t = 0; t < n; ++t) codes[s * std::size_t{n} + t] = interleaved[std::size_t{t} * 32 + s];
  }
  streams[0].order = 7;  // 7 taps: most lanes idle in either form
  streams[1].order = format::kMaxLpcOrder;
  streams[1].source_half_window = format::kMaxSourceHalfWindow;  // 41 taps: a third per lane in half a warp
  streams[1].source_stream[0] = 0;
  streams[2].order = 20;
  streams[2].source_half_window = 2;  // a source that is absent from the chunk: its inputs are 0
  std::vector<std::int32_t> weights;
  std::uint32_t seed = 12345;
  for (auto& s : streams) {
    s.lms_step = 3;
    s.weight_shift = 12;
    s.weights_offset = static_cast<std::uint32_t>(weights.size());
    for (int i = 0; i < format::batch_model(s, true).taps(); ++i) {
      seed = seed * 1103515245u + 12345u;
      weights.push_back(static_cast<std::int32_t>((seed >> 16) % 2001) - 1000);
    }
  }
  std::vector<std::int16_t> diffs(codes.size());
  for (const auto& s : streams)
    for (std::uint32_t t = 0; t < n; ++t) format::batch_clamped_difference(s, t, codes.data(), diffs.data());
  for (const auto& s : streams) {
    std::vector<std::uint32_t> sequential(codes.size()), warp(codes.size()), half_warp(codes.size());
    const auto sum = format::batch_lpc_adapting_stream(s, streams.data(), codes.data(), diffs.data(), weights.data(), sequential.data());
    EXPECT_EQ(format::batch_lpc_adapting_in_lanes<format::kBatchLanes>(s, streams.data(), codes.data(), diffs.data(), weights.data(), warp.data()),
              sum);
    EXPECT_EQ(format::batch_lpc_adapting_in_lanes<format::kBatchLanes / 2>(s, streams.data(), codes.data(), diffs.data(), weights.data(),
                                                                           half_warp.data()),
              sum);
    EXPECT_TRUE(warp == sequential) << "order " << s.order;
    EXPECT_TRUE(half_warp == sequential) << "order " << s.order;
  }
}

TEST(BatchPipeline, SameBytesAtAwkwardSizes) {
  test::TempDir dir;
  // 1 sample; chunk length +-1 (1 s at 1000 Hz); channels of different lengths; rails.
  test::write_file(dir / "one.wav", test::make_wav(1, 1000, {-7}));
  std::vector<fs::path> files = {dir / "one.wav"};
  for (std::size_t n : {999u, 1000u, 1001u, 2001u}) {
    files.push_back(dir / ("len" + std::to_string(n) + ".wav"));
    auto signal = test::synthetic_signal(n, static_cast<std::uint32_t>(n));
    if (n == 2001) signal[5] = -32768, signal[6] = 32767, signal[7] = -32768;
    test::write_file(files.back(), test::make_wav(1, 1000, signal));
  }
  expect_batch_parity(files);
  expect_batch_parity({dir / "one.wav"});
}

TEST(BatchPipeline, SameBytesWithManyChannels) {
  test::TempDir dir;
  test::write_wide_sample_wav(dir / "wide.wav", 150);  // 1024 channels from the real 32-channel sample
  expect_batch_parity({dir / "wide.wav"}, at_level("fast", 0.0022));  // 66 samples per chunk: three chunks
  // mo1 over 1024 channels: topology, MiddleOut sources and chains (no network, to keep it short).
  auto options = at_level("default", 0.0022);
  options.codec = format::kCodecMo1;
  options.mo_training.network_hidden = 0;
  EXPECT_EQ(expect_batch_parity({dir / "wide.wav"}, options).codec.name, format::kCodecMo1);
}

// mo1, mo2 and mo3 (level default's codecs): wavelet features, MiddleOut sources, the network
// stage with either projector.
TEST(BatchPipeline, SameBytesForTheMiddleOutCodecs) {
  const fs::path cinpla = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  const host::InputOptions raw{32u, 30000.0};
  auto options = at_level("default", 0.05);
  options.codec = format::kCodecMo1;
  auto trained = options;
  trained.model = train_once({cinpla}, options, raw);
  const auto with_network = expect_batch_parity({cinpla}, trained, raw);
  EXPECT_EQ(with_network.codec.name, format::kCodecMo2);  // the network helps some channels
  EXPECT_TRUE(std::ranges::any_of(with_network.channels, [](const auto& c) { return !c.predictor.sources.empty(); }));
  EXPECT_EQ(expect_batch_parity({cinpla}, trained, raw, 1).codec.name, format::kCodecMo2);  // one chunk per batch
  auto gru = options;
  gru.mo_training.network_projector = "gru";
  gru.mo_training.gru_hidden = 6;
  EXPECT_EQ(expect_batch_parity({cinpla}, gru, raw).codec.name, format::kCodecMo3);  // the GRU's state runs through each stream
  options.mo_training.network_hidden = 0;
  options.mo_training.wavelet_min_saving = 0;  // wavelet features wherever they help at all
  const auto with_wavelets = expect_batch_parity({cinpla}, options, raw);
  EXPECT_EQ(with_wavelets.codec.name, format::kCodecMo1);
  EXPECT_TRUE(std::ranges::any_of(with_wavelets.channels, [](const auto& c) { return !c.predictor.wavelet_weights.empty(); }));
  // Level default as users run it: the race of mo against lpc1, both through the batch stages.
  expect_batch_parity({cinpla}, at_level("default", 0.05), raw);
  // The adapting variant in the GPU's other forms (the warp form is the default above); 20
  // hidden units give some lanes of a half warp a second unit and the others one.
  options.mo_training.network_hidden = 16;
  trained = options;
  trained.model = train_once({cinpla}, options, raw);
  for (const auto form : {host::AdaptingForm::half_warp, host::AdaptingForm::thread})
    EXPECT_EQ(expect_batch_parity({cinpla}, trained, raw, 4 << 20, form).codec.name, format::kCodecMo2);
  options.mo_training.network_hidden = 20;
  EXPECT_EQ(expect_batch_parity({cinpla}, options, raw, 4 << 20, host::AdaptingForm::half_warp).codec.name, format::kCodecMo2);
}

// mt1, mt2 and mt3 (level default's table coder): segments of the default size and of a few
// hundred residuals (every boundary inside a chunk), the network stage with either projector,
// one chunk per batch, and the 1-sample and short streams of awkward files.
TEST(BatchPipeline, SameBytesForTheTableCoder) {
  const fs::path cinpla = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  const host::InputOptions raw{32u, 30000.0};
  auto options = at_level("default", 0.05);
  options.model = train_once({cinpla}, options, raw);
  const auto meta = expect_batch_parity({cinpla}, options, raw);
  EXPECT_EQ(meta.codec.name, format::kCodecMt2);
  EXPECT_TRUE(std::ranges::any_of(meta.channels, [](const auto& c) { return c.predictor.lms_step != 0; })) << "no channel adapts";
  auto segments = at_level("default", 0.05);
  segments.partition_size = 333;
  EXPECT_EQ(expect_batch_parity({cinpla}, segments, raw, 1).codec.partition_size, 333u);  // one chunk per batch
  auto gru = segments;
  gru.mo_training.network_projector = "gru";
  gru.mo_training.gru_hidden = 6;
  EXPECT_EQ(expect_batch_parity({cinpla}, gru, raw).codec.name, format::kCodecMt3);
  auto plain = segments;
  plain.mo_training.network_hidden = 0;
  EXPECT_EQ(expect_batch_parity({cinpla}, plain, raw).codec.name, format::kCodecMt1);
  expect_batch_parity({test::samples_dir() / "neuralink"}, at_level("default", 1.0));
  EXPECT_EQ(expect_batch_parity({cinpla}, options, raw, 4 << 20, host::AdaptingForm::half_warp).codec.name, format::kCodecMt2);

  test::TempDir dir;
  test::write_file(dir / "one.wav", test::make_wav(1, 1000, {-7}));
  std::vector<fs::path> files = {dir / "one.wav"};
  for (std::size_t n : {2u, 999u, 1001u}) {
    files.push_back(dir / ("len" + std::to_string(n) + ".wav"));
    test::write_file(files.back(), test::make_wav(1, 1000, test::synthetic_signal(n, static_cast<std::uint32_t>(n))));
  }
  auto awkward = at_level("default", 1.0);
  awkward.partition_size = 100;
  expect_batch_parity(files, awkward);
}

// The settings of the GPU test's small run (GpuEncoder.SmallParityForEveryCodec), here through
// the CPU executor: each gives the codec that test expects.
TEST(BatchPipeline, SameBytesForEveryTableCodecOnASmallSlice) {
  test::TempDir dir;
  test::write_cinpla_slice(dir / "slice.dat", 8, 1500);
  const host::InputOptions input{8u, 30000.0};
  auto mt = at_level("default", 0.01);
  mt.partition_size = 64;
  mt.mo_training.network_hidden = 0;
  EXPECT_EQ(expect_batch_parity({dir / "slice.dat"}, mt, input).codec.name, format::kCodecMt1);
  mt.mo_training = {};
  mt.mo_training.network_min_saving = -1;
  EXPECT_EQ(expect_batch_parity({dir / "slice.dat"}, mt, input).codec.name, format::kCodecMt2);
  mt.mo_training.network_projector = "gru";
  mt.mo_training.gru_hidden = 2;
  EXPECT_EQ(expect_batch_parity({dir / "slice.dat"}, mt, input).codec.name, format::kCodecMt3);
}

// Channels of different lengths: where a source channel has ended, its inputs are zeros.
TEST(BatchPipeline, SameBytesWhenMiddleOutSourcesEnd) {
  test::TempDir dir;
  const auto raw = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto* samples = reinterpret_cast<const std::int16_t*>(raw.data());
  std::vector<fs::path> files;
  for (std::size_t c = 0; c < 4; ++c) {  // 4 neighbouring real channels, ending at different times
    const std::size_t n = 6000 - 1500 * c;
    std::vector<std::int16_t> channel(n);
    for (std::size_t t = 0; t < n; ++t) channel[t] = samples[t * 32 + c];
    files.push_back(dir / ("ch" + std::to_string(c) + ".wav"));
    test::write_file(files.back(), test::make_wav(1, 30000, channel));
  }
  auto options = at_level("default", 0.04);
  options.codec = format::kCodecMo1;
  const auto meta = expect_batch_parity(files, options);
  EXPECT_EQ(format::codec_row(meta.codec.name).predictor, format::PredictorKind::middle_out) << meta.codec.name;
  const auto source_ends_first = [&](const format::ChannelInfo& c) {
    return std::ranges::any_of(c.predictor.sources, [&](const auto& s) { return meta.channels[static_cast<std::size_t>(s.channel)].length < c.length; });
  };
  EXPECT_TRUE(std::ranges::any_of(meta.channels, source_ends_first)) << "no channel draws on a source that ends before it";
}

// Stage 0: a stream's partitions, laid out from its length, tile its residuals as the chunk
// encoder's loop does (runs of partition_size from residual 0, the last one shorter).
TEST(BatchPipeline, GolombPartitionsTileTheResiduals) {
  for (const std::uint32_t size : {1u, 2u, 3u, 100u, 256u, 333u})
    for (std::uint32_t n = 1; n <= 1200; ++n) {
      format::BatchStream s;
      s.n = n;
      s.partition_size = size;
      std::vector<std::pair<std::uint32_t, std::uint32_t>> expected;  // (start, count)
      for (std::uint32_t start = 0; start < n - 1; start += size) expected.emplace_back(start, std::min(size, n - 1 - start));
      ASSERT_EQ(format::batch_golomb_partition_count(n, size), expected.size()) << "n " << n << ", size " << size;
      for (std::uint32_t k = 0; k < expected.size(); ++k) {
        const format::BatchPartition p = format::batch_golomb_partition(7, s, k);
        ASSERT_EQ(p.stream, 7u);
        ASSERT_EQ(std::make_pair(p.start, p.count), expected[k]) << "n " << n << ", size " << size << ", partition " << k;
      }
    }
}

// Slices of a plan (the CUDA encoder's two streams) merge to what the whole plan gives.
void expect_slices_merge(const std::vector<fs::path>& inputs, host::EncodeOptions options, host::InputOptions input,
                         const std::string& codec) {
  const auto recording = host::Recording::open(inputs, input, [](const std::string&) {});
  test::TempDir out;
  options.overwrite = true;
  options.threads = 2;
  host::compress(recording, out / "a.spikey", options);  // for its trained metadata
  const format::ArchiveReader reader(out / "a.spikey");
  const auto& meta = reader.metadata();
  ASSERT_EQ(meta.codec.name, codec);
  auto whole = host::plan_batch(meta, 0, meta.chunk_count());
  ASSERT_GE(whole.chunk_count(), 3u);
  const auto samples = host::gather_batch(recording, meta, whole, 2);
  auto reference_plan = whole;
  const auto reference = host::run_batch_on_cpu(reference_plan, samples, 2);
  const auto pool = std::make_shared<host::HeapMemoryPool>();
  for (std::size_t cut : {std::size_t{1}, whole.chunk_count() / 2, whole.chunk_count() - 1}) {
    std::vector<host::BatchPlan> slices = {host::slice_plan(whole, 0, cut), host::slice_plan(whole, cut, whole.chunk_count())};
    std::vector<host::BatchWords> words;
    for (auto& slice : slices) {
      const std::span<const std::int16_t> part(samples.data() + whole.chunk_sample_offset[slice.first_chunk], slice.samples);
      words.push_back(host::run_batch_on_cpu(slice, part, 2));
    }
    auto plan = whole;
    // As the CUDA executor downloads them: each slice's words after the last, in one buffer
    // from a pool; only the per-stream results are merged.
    const std::vector<std::uint64_t> word_base = {0, words[0].size()};
    host::BatchWords merged(words[0].size() + words[1].size(), host::PoolAllocator<std::uint32_t>(pool));
    std::copy(words[0].begin(), words[0].end(), merged.begin());
    std::copy(words[1].begin(), words[1].end(), merged.begin() + static_cast<std::ptrdiff_t>(word_base[1]));
    host::merge_slice_results(plan, slices, word_base);
    EXPECT_EQ(merged, reference) << "cut at chunk " << cut;
    EXPECT_TRUE(pool->owns(merged.data(), merged.size() * sizeof(std::uint32_t)));
    const auto a = host::assemble_batch(plan, merged, samples);
    const auto b = host::assemble_batch(reference_plan, reference, samples);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].payload, b[i].payload) << "chunk " << i;
  }
}

TEST(BatchPipeline, SlicesMergeToTheWholeBatch) {
  expect_slices_merge({test::samples_dir() / "neuralink"}, at_level("fast", 0.7), {}, format::kCodecLpc1);
  auto options = at_level("default", 0.05);
  options.codec = format::kCodecMo1;
  expect_slices_merge({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, options, {32u, 30000.0}, format::kCodecMo2);
  auto table = at_level("default", 0.05);
  table.partition_size = 500;
  expect_slices_merge({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, table, {32u, 30000.0}, format::kCodecMt2);
}

TEST(BatchPipeline, SameBytesOnAllNeuralinkFiles) {
  SPIKEY_SKIP_CORPUS_WIDE_IN_SANITIZED_BUILD();
  SPIKEY_REQUIRE_SHARED("neuralink");
  expect_batch_parity({test::shared_data_dir() / "neuralink"}, {}, {}, 64 << 20);
  expect_batch_parity({test::shared_data_dir() / "neuralink"}, at_level("default", 1.0), {}, 64 << 20);
}

// The pool behind the batches' samples and words: blocks reused by size, a short batch not
// handed a full batch's block, owns() exact at the edges, and the smallest kept blocks given
// back to the source when more than kept_blocks are kept.
TEST(HostMemoryPool, ReusesBlocksBySize) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  host::HeapMemoryPool pool(2);
  void* a = pool.allocate(40 * kMiB);
  ASSERT_EQ(reinterpret_cast<std::uintptr_t>(a) % 64, 0u);
  EXPECT_TRUE(pool.owns(a, 40 * kMiB));
  EXPECT_TRUE(pool.owns(static_cast<char*>(a) + 40 * kMiB - 1, 1));
  EXPECT_FALSE(pool.owns(static_cast<char*>(a) + 1, 40 * kMiB)) << "a span past the block's end";
  const int outside = 0;
  EXPECT_FALSE(pool.owns(&outside, sizeof outside));
  pool.deallocate(a);
  EXPECT_FALSE(pool.owns(a, 1)) << "a block given back is not handed out";
  EXPECT_EQ(pool.allocate(39 * kMiB), a) << "a block of about the same size is reused";
  pool.deallocate(a);
  void* small = pool.allocate(3 * kMiB);
  EXPECT_NE(small, a) << "a short batch took a block of more than twice its size";
  void* b = pool.allocate(40 * kMiB);
  EXPECT_EQ(b, a);
  void* c = pool.allocate(64 * kMiB);
  EXPECT_EQ(pool.counts().made, 3u);
  EXPECT_EQ(pool.counts().in_use, 3u);
  pool.deallocate(small);
  pool.deallocate(b);
  pool.deallocate(c);
  const auto counts = pool.counts();
  EXPECT_EQ(counts.in_use, 0u);
  EXPECT_EQ(counts.kept, 2u) << "more blocks kept than asked for";
  EXPECT_EQ(counts.held_bytes, 40 * kMiB + 64 * kMiB) << "the smallest block should have gone back";
}

TEST(HostMemoryPool, VectorsKeepTheirPoolAndGiveBlocksBackFromAnyThread) {
  auto pool = std::make_shared<host::HeapMemoryPool>();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([pool, t] {
      for (int i = 0; i < 50; ++i) {
        host::GatheredSamples samples(std::size_t{1000} * (1 + (i + t) % 7), host::PoolAllocator<std::int16_t>(pool));
        samples[0] = static_cast<std::int16_t>(i);
        host::GatheredSamples moved = std::move(samples);  // the block travels with the vector
        EXPECT_TRUE(pool->owns(moved.data(), moved.size() * sizeof(std::int16_t)));
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(pool->counts().in_use, 0u);
  EXPECT_LE(pool->counts().made, 8u) << "blocks were not reused";
  host::BatchWords words(10, host::PoolAllocator<std::uint32_t>(pool));
  const std::weak_ptr<host::HostMemoryPool> alive = pool;
  pool.reset();
  EXPECT_FALSE(alive.expired()) << "a vector's allocator keeps its pool alive";
  words = host::BatchWords{};  // moved in with its allocator (the heap's): the block goes back, and the pool with it
  EXPECT_TRUE(alive.expired());
}
