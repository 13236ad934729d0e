// Byte-exact round trips through the CPU encoder and the reference decoder: awkward shapes,
// every real data set, windows, determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <atomic>
#include <random>
#include <mutex>
#include <thread>

#include "codecs/dependent_tasks.hpp"
#include "codecs/mo/mo_chunk_residuals.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/model.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/window.hpp"
#include "transpose.hpp"
#include "value_map_loops.hpp"
#include "test_support.hpp"

using namespace spikey;
namespace fs = std::filesystem;

namespace {

void ignore_note(const std::string&) {}

struct RoundTrip {
  host::CompressReport report;
  fs::path archive;
};

RoundTrip compress_files(const std::vector<fs::path>& inputs, const fs::path& archive, host::EncodeOptions options = {},
                         host::InputOptions input_options = {}) {
  const auto recording = host::Recording::open(inputs, input_options, ignore_note);
  options.overwrite = true;
  return {host::compress(recording, archive, options), archive};
}

// Restores every file and checks each is byte-identical to the original at `originals[i]`.
void expect_restores_exactly(const fs::path& archive, const std::vector<fs::path>& originals, unsigned threads = 2) {
  test::TempDir out;
  const format::ArchiveReader reader(archive);
  host::RestoreOptions options;
  options.output_directory = out.path();
  options.threads = threads;
  const auto report = host::restore_sources(reader, options);
  EXPECT_TRUE(report.mismatched_files.empty());
  ASSERT_EQ(reader.metadata().sources.size(), originals.size());
  for (std::size_t i = 0; i < originals.size(); ++i) {
    const auto restored = test::read_file(out.path() / reader.metadata().sources[i].path);
    const auto original = test::read_file(originals[i]);
    ASSERT_EQ(restored.size(), original.size()) << originals[i];
    ASSERT_TRUE(restored == original) << originals[i] << " differs after the round trip";
  }
}

std::vector<std::int16_t> interleave(const std::vector<std::vector<std::int16_t>>& channels) {
  std::vector<std::int16_t> out;
  for (std::size_t t = 0; t < channels[0].size(); ++t)
    for (const auto& c : channels) out.push_back(c[t]);
  return out;
}

}  // namespace

// ---- awkward shapes (synthetic only where real data lacks the property) ---------------------

TEST(RoundTrip, OneSampleOneChannel) {
  test::TempDir dir;
  test::write_file(dir / "one.wav", test::make_wav(1, 1000, {-123}));
  const auto r = compress_files({dir / "one.wav"}, dir / "a.spikey");
  EXPECT_TRUE(r.report.verified);
  EXPECT_EQ(r.report.chunks, 1u);
  expect_restores_exactly(r.archive, {dir / "one.wav"});
}

TEST(RoundTrip, EmptyChannelAndZeroLengthWav) {
  test::TempDir dir;
  test::write_file(dir / "empty.wav", test::make_wav(2, 1000, {}));
  test::write_file(dir / "short.wav", test::make_wav(1, 1000, test::synthetic_signal(5, 1)));
  const auto r = compress_files({dir / "empty.wav", dir / "short.wav"}, dir / "a.spikey");
  expect_restores_exactly(r.archive, {dir / "empty.wav", dir / "short.wav"});
  // Only empty channels: an archive with no chunks.
  const auto r2 = compress_files({dir / "empty.wav"}, dir / "b.spikey");
  EXPECT_EQ(r2.report.chunks, 0u);
  expect_restores_exactly(r2.archive, {dir / "empty.wav"});
}

TEST(RoundTrip, ChunkLengthPlusMinusOne) {
  test::TempDir dir;
  // 1 s chunks at 1000 Hz: lengths 999, 1000, 1001, 2000, 2001 samples.
  std::vector<fs::path> files;
  for (std::size_t n : {999u, 1000u, 1001u, 2000u, 2001u, 1u}) {
    files.push_back(dir / ("len" + std::to_string(n) + ".wav"));
    test::write_file(files.back(), test::make_wav(1, 1000, test::synthetic_signal(n, static_cast<std::uint32_t>(n))));
  }
  const auto r = compress_files(files, dir / "a.spikey");
  EXPECT_EQ(r.report.chunks, 3u);
  expect_restores_exactly(r.archive, files);
}

TEST(RoundTrip, RailsAndFullScaleJumps) {
  test::TempDir dir;
  std::vector<std::int16_t> rails;
  for (int i = 0; i < 5000; ++i) rails.push_back(i % 3 == 0 ? -32768 : (i % 3 == 1 ? 32767 : 0));
  test::write_file(dir / "rails.wav", test::make_wav(1, 1000, rails));
  const auto r = compress_files({dir / "rails.wav"}, dir / "a.spikey");
  expect_restores_exactly(r.archive, {dir / "rails.wav"});
}

TEST(RoundTrip, ManyChannelsAndOddChunkSeconds) {
  test::TempDir dir;
  std::vector<std::vector<std::int16_t>> channels;
  for (std::uint32_t c = 0; c < 1024; ++c) channels.push_back(test::synthetic_signal(300, c));
  test::write_file(dir / "wide.wav", test::make_wav(1024, 20000, interleave(channels)));
  host::EncodeOptions options;
  options.chunk_seconds = 0.0037;  // 74 samples per chunk
  options.threads = 3;
  const auto r = compress_files({dir / "wide.wav"}, dir / "a.spikey", options);
  EXPECT_EQ(r.report.channels, 1024u);
  EXPECT_EQ(r.report.chunks, 5u);
  expect_restores_exactly(r.archive, {dir / "wide.wav"});
}

// A chunk of more than 2^20 samples is interleaved back into its file in time slices on the
// threads (decoder.cpp, SourceRebuilder): 192 channels of the real 32-channel sample (each at six
// time offsets), one chunk of 6000 frames, restored and verified on 3 threads and on 1.
TEST(RoundTrip, LargeChunksInterleaveInTimeSlices) {
  test::TempDir dir;
  const auto raw = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto* real = reinterpret_cast<const std::int16_t*>(raw.data());
  constexpr std::size_t kFrames = 6000, kChannels = 192;
  std::vector<std::int16_t> wide;
  for (std::size_t t = 0; t < kFrames; ++t)
    for (std::size_t c = 0; c < kChannels; ++c) wide.push_back(real[((t + 997 * (c / 32)) % kFrames) * 32 + c % 32]);
  test::write_file(dir / "wide.dat", test::as_bytes(wide));
  host::EncodeOptions options;
  options.level = "fast";
  options.threads = 3;
  const auto r = compress_files({dir / "wide.dat"}, dir / "a.spikey", options, {static_cast<std::uint32_t>(kChannels), 30000.0});
  ASSERT_TRUE(r.report.verified);
  ASSERT_EQ(r.report.chunks, 1u);
  expect_restores_exactly(r.archive, {dir / "wide.dat"}, 3);
  expect_restores_exactly(r.archive, {dir / "wide.dat"}, 1);
}

TEST(RoundTrip, RawWithPartialTrailingFrame) {
  test::TempDir dir;
  auto bytes = test::as_bytes(test::synthetic_signal(3 * 700, 9));
  bytes.push_back(0x42);  // a stray byte: not a whole frame, kept verbatim
  test::write_file(dir / "rec.bin", bytes);
  const auto r = compress_files({dir / "rec.bin"}, dir / "a.spikey", {}, {3u, 700.0});
  EXPECT_EQ(r.report.channels, 3u);
  expect_restores_exactly(r.archive, {dir / "rec.bin"});
}

TEST(ValueMaps, ChoosesTheExactMapWithTheSmallestRange) {
  host::ValueSurvey n1;
  n1.add(std::vector<std::int16_t>{-32768, 32767, format::code_to_value({format::ValueMapKind::n1_10bit}, 500)});
  EXPECT_EQ(host::choose_value_map(n1).kind, format::ValueMapKind::n1_10bit);

  host::ValueSurvey step12;
  step12.add(std::vector<std::int16_t>{5, 17, -7, 1205});
  const auto affine = host::choose_value_map(step12);
  EXPECT_EQ(affine.kind, format::ValueMapKind::affine);
  EXPECT_EQ(affine.step, 12);
  EXPECT_EQ(affine.offset, 5);

  host::ValueSurvey off_grid = step12;
  off_grid.add(std::vector<std::int16_t>{6});  // one value off the grid: falls back to identity
  EXPECT_EQ(host::choose_value_map(off_grid).kind, format::ValueMapKind::identity);

  host::ValueSurvey merged;  // merging partial surveys equals one survey
  host::ValueSurvey part;
  part.add(std::vector<std::int16_t>{17, 1205});
  merged.add(std::vector<std::int16_t>{5, -7});
  merged.merge(part);
  EXPECT_EQ(host::choose_value_map(merged).step, 12);
}

// The survey's statistics equal those of a sample-by-sample reference on grids of power-of-two,
// odd and mixed steps, values that fall off a grid late, N1 values and their neighbours, in
// pieces of every length (a piece may start on a power-of-two gcd that a later value breaks).
// The chunk loops of the decoder (codes to values) and the encoder (values to codes) against
// the format's functions value by value: real N1 and cinpla samples, the whole N1 grid, and
// codes no encoder writes (a damaged stream) alone and inside a block of grid codes.
TEST(ValueMaps, ChunkLoopsEqualTheMapValueByValue) {
  const auto wav = test::read_file(test::samples_dir() / "neuralink" / "3830d316-1af4-4496-be1a-553298450516.wav");
  ASSERT_GT(wav.size(), 44u + 20000);
  std::vector<std::int16_t> n1_values((wav.size() - 44) / 2);
  std::memcpy(n1_values.data(), wav.data() + 44, n1_values.size() * 2);
  const auto raw = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  std::vector<std::int16_t> cinpla_values(raw.size() / 2);
  std::memcpy(cinpla_values.data(), raw.data(), raw.size());

  const format::ValueMap n1{format::ValueMapKind::n1_10bit}, identity{format::ValueMapKind::identity};
  for (int code = 0; code < 1024; ++code) ASSERT_EQ(format::n1_grid_code_to_value(code), format::n1_code_to_value(code)) << code;

  const auto expect_codes_to_values = [](const format::ValueMap& map, const std::vector<std::int32_t>& codes, const char* what) {
    std::vector<std::int16_t> values(codes.size() + 1, 12345);  // one past the end: must stay
    host::codes_to_values(map, codes, values.data());
    for (std::size_t t = 0; t < codes.size(); ++t) ASSERT_EQ(values[t], format::code_to_value(map, codes[t])) << what << " at " << t;
    ASSERT_EQ(values.back(), 12345) << what;
  };
  const auto expect_values_to_codes = [](const format::ValueMap& map, const std::vector<std::int16_t>& values, const char* what) {
    std::vector<std::int32_t> codes(values.size() + 1, -7);
    const bool exact = host::values_to_codes(map, values, codes.data());
    bool reference_exact = true;
    for (std::size_t t = 0; t < values.size(); ++t) {
      ASSERT_EQ(codes[t], format::value_to_code(map, values[t])) << what << " at " << t;
      reference_exact &= format::value_map_is_exact_for(map, values[t]);
    }
    ASSERT_EQ(exact, reference_exact) << what;
    ASSERT_EQ(codes.back(), -7) << what;
  };

  // N1: the recording's codes, every length up to a few vectors and blocks, then with codes off
  // the grid (negative, 1024 and beyond, the extremes) in one block of a long run.
  std::vector<std::int32_t> codes(n1_values.size());
  for (std::size_t t = 0; t < codes.size(); ++t) codes[t] = format::n1_value_to_code(n1_values[t]);
  expect_codes_to_values(n1, codes, "n1");
  for (const std::size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 1023, 1024, 1025, 2047, 3000}) {
    expect_codes_to_values(n1, {codes.begin(), codes.begin() + static_cast<std::ptrdiff_t>(n)}, "n1 prefix");
    expect_values_to_codes(n1, {n1_values.begin(), n1_values.begin() + static_cast<std::ptrdiff_t>(n)}, "n1 prefix");
  }
  std::vector<std::int32_t> grid(1024);
  std::iota(grid.begin(), grid.end(), 0);
  expect_codes_to_values(n1, grid, "n1 grid");
  for (const std::int32_t off : {-1, 1024, 1025, 65535, -70000, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()}) {
    auto damaged = codes;
    damaged[5000] = off;
    expect_codes_to_values(n1, damaged, "n1 off the grid");
  }
  // Values: the recording's (on the grid), then one off it by 1, early and late.
  expect_values_to_codes(n1, n1_values, "n1 values");
  for (const std::size_t at : {std::size_t{0}, std::size_t{12345}, n1_values.size() - 1}) {
    auto off_grid = n1_values;
    off_grid[at] = static_cast<std::int16_t>(off_grid[at] + 1);
    expect_values_to_codes(n1, off_grid, "n1 value off the grid");
  }

  // Affine and identity: cinpla's values, codes beyond 16 bits (wrapping, as code_to_value).
  std::vector<std::int32_t> cinpla_codes(cinpla_values.begin(), cinpla_values.end());
  cinpla_codes[3] = 70000, cinpla_codes[4] = -40000;
  expect_codes_to_values(identity, cinpla_codes, "identity");
  expect_values_to_codes(identity, cinpla_values, "identity values");
  for (const auto& [step, offset] : std::vector<std::pair<std::int32_t, std::int32_t>>{{1, 0}, {4, 3}, {195, 17}, {1000, 999}}) {
    const format::ValueMap affine{format::ValueMapKind::affine, step, offset};
    expect_codes_to_values(affine, cinpla_codes, "affine");
    std::vector<std::int16_t> on_map(cinpla_values.size());
    for (std::size_t t = 0; t < on_map.size(); ++t) on_map[t] = static_cast<std::int16_t>(cinpla_values[t] / step * step + offset);
    expect_values_to_codes(affine, on_map, "affine values on the map");
    expect_values_to_codes(affine, cinpla_values, "affine values");
  }
}

TEST(ValueMaps, SurveyEqualsTheSampleBySampleStatistics) {
  std::mt19937 random(17);
  const format::ValueMap n1{format::ValueMapKind::n1_10bit};
  int cases = 0;
  for (const int step : {1, 2, 4, 16, 64, 3, 12, 48, 1000}) {
    for (const int breaker : {0, 1, 2, 8, 3, 5}) {  // a late value off the grid by this much (0: none)
      for (const bool n1_values : {false, true}) {
        std::vector<std::int16_t> values(5000);
        std::uniform_int_distribution<int> code(0, 1023), level(-200, 200);
        for (auto& v : values)
          v = n1_values ? format::code_to_value(n1, code(random)) : static_cast<std::int16_t>(level(random) * step + 7);
        if (breaker != 0) values[4000 + static_cast<std::size_t>(cases % 900)] += static_cast<std::int16_t>(breaker);
        // The reference: every statistic sample by sample.
        bool exact = true;
        std::uint32_t gcd = 0;
        std::int32_t lo = values[0], hi = values[0];
        for (const std::int16_t v : values) {
          exact &= format::value_map_is_exact_for(n1, v);
          gcd = std::gcd(gcd, static_cast<std::uint32_t>(std::abs(std::int32_t{v} - values[0])));
          lo = std::min<std::int32_t>(lo, v);
          hi = std::max<std::int32_t>(hi, v);
        }
        for (const std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, values.size()}) {
          host::ValueSurvey survey;
          for (std::size_t at = 0; at < values.size(); at += piece)
            survey.add(std::span<const std::int16_t>(values).subspan(at, std::min(piece, values.size() - at)));
          EXPECT_EQ(survey.gcd, gcd) << "step " << step << ", off by " << breaker << ", pieces of " << piece;
          EXPECT_EQ(survey.n1_exact, exact) << "step " << step << ", off by " << breaker << ", pieces of " << piece;
          EXPECT_EQ(survey.min, lo);
          EXPECT_EQ(survey.max, hi);
          EXPECT_EQ(survey.first, values[0]);
        }
        ++cases;
      }
    }
  }
  for (int v = -32768; v <= 32767; ++v) {  // the N1 check of every value
    host::ValueSurvey survey;
    const std::vector<std::int16_t> one{static_cast<std::int16_t>(v)};
    survey.add(one);
    ASSERT_EQ(survey.n1_exact, format::value_map_is_exact_for(n1, static_cast<std::int16_t>(v))) << v;
    ASSERT_EQ(format::n1_grid_value(static_cast<std::int16_t>(v)), format::n1_code_to_value(format::n1_value_to_code(static_cast<std::int16_t>(v)))) << v;
  }
}

TEST(RoundTrip, AffineMappedChannel) {
  test::TempDir dir;
  auto signal = test::synthetic_signal(4000, 4);
  for (auto& v : signal) v = static_cast<std::int16_t>((v / 12) * 12 + 3);
  test::write_file(dir / "step12.wav", test::make_wav(1, 30000, signal));
  const auto r = compress_files({dir / "step12.wav"}, dir / "a.spikey");
  EXPECT_EQ(r.report.value_map_counts[static_cast<int>(format::ValueMapKind::affine)], 1u);
  expect_restores_exactly(r.archive, {dir / "step12.wav"});
}

// Chunk jobs: results reach consume in order, each once, whatever the thread count; the first
// error stops the work and reaches the caller; one thread works on the calling thread alone.
TEST(OrderedParallel, ConsumesInOrderAndStopsAtTheFirstError) {
  for (const unsigned threads : {1u, 2u, 5u}) {
    for (const std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{23}}) {
      std::vector<std::size_t> seen;
      std::atomic<int> other_threads{0};
      const auto caller = std::this_thread::get_id();
      host::ordered_parallel<std::size_t>(
          count, threads, 3,
          [&](std::size_t i) {
            if (std::this_thread::get_id() != caller) ++other_threads;
            return i * i;
          },
          [&](std::size_t i, std::size_t& r) {
            EXPECT_EQ(r, i * i);
            seen.push_back(i);
          });
      std::vector<std::size_t> expected(count);
      std::iota(expected.begin(), expected.end(), std::size_t{0});
      EXPECT_EQ(seen, expected) << threads << " threads, " << count << " jobs";
      if (threads == 1) EXPECT_EQ(other_threads, 0) << "one thread started another";
    }
    std::vector<std::size_t> seen;
    EXPECT_THROW(host::ordered_parallel<int>(
                     40, threads, 4,
                     [](std::size_t i) {
                       if (i == 7) throw std::runtime_error("job 7");
                       return 0;
                     },
                     [&](std::size_t i, int&) { seen.push_back(i); }),
                 std::runtime_error);
    EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](std::size_t i) { return i < 7; })) << threads << " threads";
  }
}

// Every level writes the same bytes for any thread count (training included), on the bundled
// 32-channel Intan sample.
// Each source's checksum (computed beside the survey and the training) is its file's XXH3-64 on
// one thread and on several, and an encode that fails after the survey (a model for other
// channels) reports its error and leaves no archive.
TEST(RoundTrip, SourceChecksumsOnAnyThreadsAndAFailedEncode) {
  test::TempDir dir;
  std::vector<fs::path> files;
  for (std::uint16_t f = 0; f < 3; ++f) {
    files.push_back(dir / ("part" + std::to_string(f) + ".wav"));
    test::write_file(files.back(), test::make_wav(static_cast<std::uint16_t>(1 + f), 20000, test::synthetic_signal(std::size_t{3000} * (1 + f) * (2 + f), 11 + f)));
  }
  for (const unsigned threads : {1u, 4u}) {
    host::EncodeOptions options;
    options.threads = threads;
    const auto r = compress_files(files, dir / ("a" + std::to_string(threads) + ".spikey"), options);
    const format::ArchiveReader reader(r.archive);
    ASSERT_EQ(reader.metadata().sources.size(), files.size());
    for (std::size_t s = 0; s < files.size(); ++s)
      EXPECT_EQ(reader.metadata().sources[s].checksum, format::checksum64(test::read_file(files[s]))) << files[s] << ", " << threads << " threads";
  }

  host::EncodeOptions options;
  options.threads = 4;
  options.level = "fast";
  const auto one = host::Recording::open({files[0]}, {}, ignore_note);
  options.model = std::make_shared<host::Model>(host::train_model(one, host::survey_recording(one, options), "lpc1", options));
  const auto all = host::Recording::open(files, {}, ignore_note);
  EXPECT_THROW(host::compress(all, dir / "b.spikey", options), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir / "b.spikey"));
}

TEST(RoundTrip, SameBytesForAnyThreadCount) {
  const fs::path input = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  test::TempDir out;
#ifdef SPIKEY_SANITIZED_BUILD
  const std::vector<unsigned> thread_counts = {1u, 64u};
#else
  const std::vector<unsigned> thread_counts = {1u, 2u, 3u, 5u, 8u, 16u, 32u, 64u};
#endif
  for (const char* level : {"fast", "default", "max"}) {
    std::vector<std::uint8_t> first;
    for (const unsigned threads : thread_counts) {
      host::EncodeOptions options;
      options.level = level;
      options.threads = threads;
      options.chunk_seconds = 0.05;
      const auto r = compress_files({input}, out / (std::string(level) + std::to_string(threads) + ".spikey"), options, {32u, 30000.0});
      const auto bytes = test::read_file(r.archive);
      if (first.empty()) first = bytes;
      EXPECT_TRUE(bytes == first) << "level " << level << ": " << threads << " threads wrote different bytes";
    }
  }
}

// A recording of fewer channels than a lane group holds has its chunks coded together (their
// channels share the lockstep kernels' lanes, in training and in encoding): every chunk's payload
// is the one encode_chunk gives that chunk alone, at every level, for one and for three channels.
TEST(RoundTrip, ChunksCodedTogetherGiveEachChunksOwnPayload) {
  EXPECT_TRUE(host::codecs::lane_filling_chunk_groups(17, 8, 2).empty());  // a lane group's worth of channels: chunks alone
  const auto groups = host::codecs::lane_filling_chunk_groups(17, 1, 2);
  ASSERT_EQ(groups.size(), 3u);  // 8 + 8 + 1
  EXPECT_EQ(groups[1], (std::pair<std::size_t, std::size_t>{8, 16}));
  EXPECT_EQ(host::codecs::lane_filling_chunk_groups(6, 3, 2).size(), 3u);  // two chunks of 3 channels each, as many groups as threads allow
  test::TempDir out;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(test::samples_dir() / "neuralink")) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const std::vector<fs::path>& inputs : {std::vector<fs::path>{files[0]}, files}) {
    const auto recording = host::Recording::open(inputs, {}, ignore_note);
    for (const char* level : {"fast", "default", "max"}) {
      SCOPED_TRACE(std::to_string(inputs.size()) + " channel(s), level " + level);
      host::EncodeOptions options;
      options.level = level;
      options.chunk_seconds = 0.3;  // 17 chunks
      options.threads = 2;
      options.overwrite = true;
      host::compress(recording, out / "a.spikey", options);
      const format::ArchiveReader reader(out / "a.spikey");
      const format::Metadata& meta = reader.metadata();
      ASSERT_GE(meta.chunk_count(), 17u);
      for (std::uint64_t chunk = 0; chunk < meta.chunk_count(); ++chunk) {
        const auto present = format::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
        std::vector<std::int16_t> samples;
        recording.gather(meta.chunk_first_sample(chunk), present, samples);
        EXPECT_TRUE(reader.read_payload(chunk) == host::encode_chunk(samples, present, meta, 1).payload) << "chunk " << chunk;
      }
    }
  }
}

// A chunk's channels coded in parts across threads (the encoder does so when its chunks are too
// few to keep every thread busy) give the same payload as coded on one thread: every codec, on
// the bundled 32-channel Intan sample and on the SpikeGLX pair with its sync channel.
TEST(RoundTrip, ChunkPayloadIsTheSameWhenItsChannelsAreSplitAcrossThreads) {
  test::TempDir out;
  struct Input {
    std::vector<fs::path> files;
    host::InputOptions options;
  };
  const std::vector<Input> inputs = {{{test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, {32u, 30000.0}},
                                     {{test::samples_dir() / "spikeglx" / "run_g0_t0.imec0.ap.bin"}, {}}};
  for (const auto& input : inputs) {
    const auto recording = host::Recording::open(input.files, input.options, ignore_note);
    for (const char* codec : {"rice1", "lpc1", "mo1", "mt1", "cm1"}) {
      SCOPED_TRACE(input.files[0].filename().string() + " " + codec);
      host::EncodeOptions options;
      options.codec = codec;
      options.chunk_seconds = 0.05;
      options.overwrite = true;
      host::compress(recording, out / "a.spikey", options);
      const format::ArchiveReader reader(out / "a.spikey");
      const format::Metadata& meta = reader.metadata();
      const auto present = format::channels_in_chunk(meta, 0, meta.chunk_sample_count(0));
      std::vector<std::int16_t> samples;
      recording.gather(0, present, samples);
      const auto one = host::encode_chunk(samples, present, meta, 1);
      for (const unsigned threads : {2u, 3u, 8u}) {
        const auto split = host::encode_chunk(samples, present, meta, threads);
        EXPECT_TRUE(split.payload == one.payload) << threads << " threads";
        EXPECT_EQ(split.samples_checksum, one.samples_checksum);
      }
    }
  }
}

// A chunk gathered from interleaved frames equals the samples read one by one, for channel and
// frame counts on and off the transposition's 8 x 8 blocks, from a chunk that starts mid-file,
// and with the channel tiles' edge (64) crossed.
TEST(RoundTrip, GatheredChunkEqualsTheFramesReadOneByOne) {
  std::mt19937 random(7);
  for (const std::uint32_t channels : {1u, 3u, 8u, 13u, 64u, 67u, 130u}) {
    for (const std::uint64_t frames : {7ull, 300ull, 1001ull}) {
      std::vector<std::int16_t> interleaved(channels * frames);
      for (auto& v : interleaved) v = static_cast<std::int16_t>(random());
      const auto recording = host::Recording::from_memory(
          {reinterpret_cast<const std::uint8_t*>(interleaved.data()), interleaved.size() * 2}, "m.dat", channels, 30000.0, false);
      for (const std::uint64_t first : {0ull, 5ull}) {
        if (first >= frames) continue;
        format::ChunkChannels present;
        for (std::uint32_t c = 0; c < channels; ++c) {
          present.channel.push_back(c);
          present.sample_count.push_back(static_cast<std::uint32_t>(frames - first));
        }
        std::vector<std::int16_t> gathered;
        recording.gather(first, present, gathered);
        ASSERT_EQ(gathered.size(), channels * (frames - first));
        std::size_t wrong = 0;
        for (std::uint32_t c = 0; c < channels; ++c)
          for (std::uint64_t t = first; t < frames; ++t) wrong += gathered[c * (frames - first) + (t - first)] != interleaved[t * channels + c];
        EXPECT_EQ(wrong, 0u) << channels << " channels, " << frames << " frames from " << first;
      }
    }
  }
}

// The transposition both ways (transpose.hpp): gathering frames into rows above, rows back into
// frames when a file is rebuilt; here on and off its 8 x 8 blocks, with strides wider than the
// block and an input at an odd byte address (a mapped file's frames need not be aligned).
TEST(RoundTrip, TransposeMatchesTheValueByValueCopy) {
  std::mt19937 random(11);
  for (const std::size_t rows : {1u, 3u, 8u, 9u, 37u, 1024u})
    for (const std::size_t columns : {1u, 7u, 8u, 17u, 300u}) {
      const std::size_t in_stride = columns + 3, out_stride = rows + 5;
      std::vector<std::uint8_t> in(1 + rows * in_stride * 2);
      for (auto& b : in) b = static_cast<std::uint8_t>(random());
      std::vector<std::int16_t> out(columns * out_stride, 0);
      host::transpose_int16(in.data() + 1, in_stride, rows, columns, out.data(), out_stride);
      std::size_t wrong = 0;
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < columns; ++c) {
          std::int16_t expected;
          std::memcpy(&expected, in.data() + 1 + (r * in_stride + c) * 2, 2);
          wrong += out[c * out_stride + r] != expected;
        }
      for (std::size_t c = 0; c < columns; ++c)
        for (std::size_t r = rows; r < out_stride; ++r) wrong += out[c * out_stride + r] != 0;  // nothing written past a row
      EXPECT_EQ(wrong, 0u) << rows << " rows, " << columns << " columns";
    }
}

// Many threads reading random windows from one reader at once all get the original samples
// (the reader is shared; run under the sanitizer build too).
TEST(Window, ConcurrentReadersOfOneArchive) {
  const fs::path input = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  test::TempDir out;
  host::EncodeOptions options;
  options.chunk_seconds = 0.02;
  const auto r = compress_files({input}, out / "a.spikey", options, {32u, 30000.0});
  const auto original = test::read_file(input);
  const auto* samples = reinterpret_cast<const std::int16_t*>(original.data());
  const std::uint64_t frames = original.size() / 64;
  const format::ArchiveReader reader(r.archive);
  std::atomic<int> wrong{0}, done{0};
  std::vector<std::thread> pool;
  for (unsigned id = 0; id < 16; ++id) {
    pool.emplace_back([&, id] {
      std::mt19937 rng(id);
      for (int trial = 0; trial < 25; ++trial) {
        const std::uint64_t start = rng() % frames, end = start + 1 + rng() % 3000;
        std::vector<std::uint32_t> channels;
        for (int c = 0, n = 1 + static_cast<int>(rng() % 6); c < n; ++c) channels.push_back(static_cast<std::uint32_t>(rng() % 32));
        const auto w = host::resolve_window(reader.metadata(), start, end, channels);
        const auto got = host::read_window(reader, w, 1 + id % 3);
        for (std::uint64_t t = w.start; t < w.end; ++t)
          for (std::size_t j = 0; j < channels.size(); ++j)
            wrong += got[(t - w.start) * channels.size() + j] != samples[t * 32 + channels[j]];
        ++done;
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(done.load(), 16 * 25);
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Verify, ReportsTheFirstDifferingSample) {
  test::TempDir dir;
  auto signal = test::synthetic_signal(3000, 8);
  test::write_file(dir / "a.wav", test::make_wav(1, 1000, signal));
  const auto r = compress_files({dir / "a.wav"}, dir / "a.spikey");
  signal[2345] += 1;  // the "input" now differs from what the archive holds
  test::write_file(dir / "b" / "a.wav", test::make_wav(1, 1000, signal));
  const auto other = host::Recording::open({dir / "b" / "a.wav"}, {}, ignore_note);
  const format::ArchiveReader reader(r.archive);
  try {
    host::verify_against_input(reader, other, {});
    FAIL() << "a differing input passed verification";
  } catch (const host::VerifyError& e) {
    EXPECT_NE(std::string(e.what()).find("chunk 2, channel 0, sample 2345: expected " + std::to_string(signal[2345])),
              std::string::npos)
        << e.what();
  }
}

TEST(RoundTrip, Rice1StillEncodesAndDecodes) {
  test::TempDir out;
  host::EncodeOptions options;
  options.codec = format::kCodecRice1;
  const auto r = compress_files({test::samples_dir() / "neuralink"}, out / "r.spikey", options);
  const format::ArchiveReader reader(r.archive);
  EXPECT_EQ(reader.metadata().codec.name, "rice1");
  std::vector<fs::path> originals;
  for (const auto& e : fs::directory_iterator(test::samples_dir() / "neuralink")) originals.push_back(e.path());
  std::sort(originals.begin(), originals.end());
  expect_restores_exactly(r.archive, originals);
}

TEST(Lpc1, LinksOnlyCorrelatedChannels) {
  // The bundled sample: two channels recorded together (lag-0 LFP correlation 0.965) and one
  // unrelated, rail-clipped recording.
  test::TempDir out;
  host::EncodeOptions fast;
  fast.level = "fast";
  const auto r = compress_files({test::samples_dir() / "neuralink"}, out / "s.spikey", fast);
  const format::ArchiveReader reader(r.archive);
  const auto& channels = reader.metadata().channels;
  ASSERT_EQ(channels.size(), 3u);
  EXPECT_EQ(channels[0].predictor.source_channel(), -1) << "the unrelated recording must not be linked";
  const bool pair_linked = channels[1].predictor.source_channel() == 2 || channels[2].predictor.source_channel() == 1;
  EXPECT_TRUE(pair_linked) << "the simultaneously recorded pair should predict one from the other";
  for (const auto& c : channels) EXPECT_GT(c.predictor.history_weights.size(), 0u);
}

// ---- real data ----------------------------------------------------------------------------

TEST(RealData, AllNeuralinkFilesInOneArchive) {
  SPIKEY_SKIP_CORPUS_WIDE_IN_SANITIZED_BUILD();
  SPIKEY_REQUIRE_SHARED("neuralink");
  const fs::path dir = test::shared_data_dir() / "neuralink";
  test::TempDir out;
  host::EncodeOptions options;
  options.threads = 2;
  const auto r = compress_files({dir}, out / "nl.spikey", options);
  std::vector<fs::path> wavs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".wav") wavs.push_back(e.path());
  std::sort(wavs.begin(), wavs.end());
  ASSERT_EQ(wavs.size(), 303u);
  EXPECT_EQ(r.report.channels, 303u);
  EXPECT_EQ(r.report.value_map_counts[static_cast<int>(format::ValueMapKind::n1_10bit)], 303u);
  expect_restores_exactly(r.archive, wavs);
  const double ratio = static_cast<double>(r.report.original_bytes) / static_cast<double>(r.report.archive_bytes);
  EXPECT_GE(ratio, 3.30) << "issue target: ratio >= 3.30 on the 303 files";
  RecordProperty("ratio", std::to_string(ratio));
}

TEST(RealData, MultiChannelSets) {
  SPIKEY_SKIP_CORPUS_WIDE_IN_SANITIZED_BUILD();
  struct Set {
    const char* file;
    std::uint32_t channels;
    double rate;
  };
  const Set sets[] = {{"cinpla_oebin32/continuous.dat", 32, 30000},
                      {"biocam_36ch/biocam_36ch_19754Hz_minus2048.i16", 36, 19753.774},
                      {"tdc_locust/locust_trial_01.raw", 4, 15000},
                      {"oe_demo_cortex16_filtered/oe_cortex16_40kHz_filtered.i16", 16, 40000}};
  for (const auto& set : sets) {
    SCOPED_TRACE(set.file);
    SPIKEY_REQUIRE_SHARED(set.file);
    test::TempDir out;
    const fs::path input = test::shared_data_dir() / set.file;
    const auto r = compress_files({input}, out / "a.spikey", {}, {set.channels, set.rate});
    EXPECT_EQ(r.report.channels, set.channels);
    expect_restores_exactly(r.archive, {input});
  }
}

TEST(RealData, CrossChannelPredictionHelpsOnCommonLfp) {
  SPIKEY_REQUIRE_SHARED("cinpla_oebin32/continuous.dat");
  const fs::path input = test::shared_data_dir() / "cinpla_oebin32" / "continuous.dat";
  test::TempDir out;
  host::EncodeOptions on;
  on.level = "fast";
  host::EncodeOptions off = on;
  off.training.source_half_window = -1;
  const auto with = compress_files({input}, out / "on.spikey", on, {32u, 30000.0});
  const auto without = compress_files({input}, out / "off.spikey", off, {32u, 30000.0});
  const format::ArchiveReader reader(with.archive);
  std::size_t linked = 0;
  for (const auto& c : reader.metadata().channels) linked += c.predictor.source_channel() >= 0;
  EXPECT_GE(linked, 16u) << "32 channels sharing one LFP: most should be predicted from a neighbour";
  // Measured +5%; require a clear gain, not the exact figure.
  EXPECT_LT(static_cast<double>(with.report.archive_bytes), 0.98 * static_cast<double>(without.report.archive_bytes));
}

TEST(RealData, OpenEphysContinuousFilesAsRawAndLocustPair) {
  SPIKEY_REQUIRE_SHARED("tdc_locust/locust_trial_02.raw");
  const fs::path d = test::shared_data_dir() / "tdc_locust";
  test::TempDir out;
  const auto r = compress_files({d / "locust_trial_01.raw", d / "locust_trial_02.raw"}, out / "a.spikey", {}, {4u, 15000.0});
  EXPECT_EQ(r.report.channels, 8u);
  expect_restores_exactly(r.archive, {d / "locust_trial_01.raw", d / "locust_trial_02.raw"});
}

// ---- windows ------------------------------------------------------------------------------

TEST(Window, ExtractsEqualSlicesOfTheOriginal) {
  SPIKEY_REQUIRE_SHARED("cinpla_oebin32/continuous.dat");
  const fs::path input = test::shared_data_dir() / "cinpla_oebin32" / "continuous.dat";
  test::TempDir out;
  host::EncodeOptions options;
  options.chunk_seconds = 0.25;
  const auto r = compress_files({input}, out / "a.spikey", options, {32u, 30000.0});
  const auto original = test::read_file(input);
  const auto* samples = reinterpret_cast<const std::int16_t*>(original.data());
  const std::uint64_t frames = original.size() / 64;
  const format::ArchiveReader reader(r.archive);
  std::mt19937 rng(1);
  for (int trial = 0; trial < 40; ++trial) {
    const std::uint64_t start = rng() % frames;
    const std::uint64_t end = start + 1 + rng() % 20000;  // may run past the end: clipped
    std::vector<std::uint32_t> channels;
    for (int c = 0, n = 1 + static_cast<int>(rng() % 5); c < n; ++c) channels.push_back(static_cast<std::uint32_t>(rng() % 32));
    const auto w = host::resolve_window(reader.metadata(), start, end, channels);
    EXPECT_EQ(w.end, std::min(end, frames));
    const auto got = host::read_window(reader, w, 2);
    ASSERT_EQ(got.size(), w.frames() * channels.size());
    for (std::uint64_t t = w.start; t < w.end; ++t)
      for (std::size_t j = 0; j < channels.size(); ++j)
        ASSERT_EQ(got[(t - w.start) * channels.size() + j], samples[t * 32 + channels[j]]) << "t=" << t << " ch=" << channels[j];
  }
}

TEST(Window, ClipsToTheShortestRequestedChannelAndRejectsEmptyWindows) {
  test::TempDir dir;
  test::write_file(dir / "long.wav", test::make_wav(1, 1000, test::synthetic_signal(3000, 1)));
  test::write_file(dir / "short.wav", test::make_wav(1, 1000, test::synthetic_signal(1200, 2)));
  const auto r = compress_files({dir / "long.wav", dir / "short.wav"}, dir / "a.spikey");
  const format::ArchiveReader reader(r.archive);
  const auto w = host::resolve_window(reader.metadata(), 1000, 2500, {0, 1});
  EXPECT_EQ(w.end, 1200u);
  EXPECT_TRUE(w.clipped);
  EXPECT_EQ(host::resolve_window(reader.metadata(), 1000, 2500, {0}).end, 2500u);
  EXPECT_THROW(host::resolve_window(reader.metadata(), 1200, 2500, {1}), std::invalid_argument);
  EXPECT_THROW(host::resolve_window(reader.metadata(), 10, 10, {0}), std::invalid_argument);
  EXPECT_THROW(host::resolve_window(reader.metadata(), 0, 10, {2}), std::invalid_argument);
}

TEST(Window, ChannelListsAndTimes) {
  const std::vector<std::string> ten = {"AP0", "AP1", "AP2", "AP3", "AP4", "AP5", "AP6", "AP7", "odd-name", "SY0"};
  EXPECT_EQ(host::parse_channel_list("0,7,3-5", ten), (std::vector<std::uint32_t>{0, 7, 3, 4, 5}));
  EXPECT_EQ(host::parse_channel_list("9", ten), (std::vector<std::uint32_t>{9}));
  EXPECT_EQ(host::parse_channel_list("SY0,AP2-AP4,odd-name,1", ten), (std::vector<std::uint32_t>{9, 2, 3, 4, 8, 1}));
  EXPECT_THROW(host::parse_channel_list("10", ten), std::invalid_argument);
  EXPECT_THROW(host::parse_channel_list("5-3", ten), std::invalid_argument);
  EXPECT_THROW(host::parse_channel_list("AP4-AP2", ten), std::invalid_argument);
  EXPECT_THROW(host::parse_channel_list("a", ten), std::invalid_argument);
  EXPECT_THROW(host::parse_channel_list("AP8", ten), std::invalid_argument);
  EXPECT_THROW(host::parse_channel_list("1,,2", ten), std::invalid_argument);
  EXPECT_EQ(host::seconds_to_sample(1.25, 19531), 24414u);  // 24413.75 rounds up
  EXPECT_EQ(host::seconds_to_sample(1.5, 19531), 29297u);   // 29296.5 rounds half away from zero
  EXPECT_THROW(host::seconds_to_sample(-1, 1000), std::invalid_argument);
}

TEST(Inputs, MixedRatesKeepTheirOwnAndCollidingRestorePathsAreRejected) {
  test::TempDir dir;
  test::write_file(dir / "a.wav", test::make_wav(1, 1000, {1, 2}));
  test::write_file(dir / "b.wav", test::make_wav(1, 2000, {1, 2}));
  test::write_file(dir / "sub" / "a.wav", test::make_wav(1, 1000, {1, 2}));
  const auto mixed = host::Recording::open({dir / "a.wav", dir / "b.wav"}, {}, ignore_note);
  EXPECT_EQ(mixed.sample_rate(), 2000);  // the fastest stream's
  EXPECT_EQ(mixed.sources()[0].sample_rate, 1000);
  EXPECT_THROW(host::Recording::open({dir / "a.wav", dir / "sub" / "a.wav"}, {}, ignore_note), host::InputError);
  EXPECT_THROW(host::Recording::open({dir / "missing.wav"}, {}, ignore_note), host::InputError);
}

TEST(Inputs, DirectoriesAreWalkedInSortedOrderWithRelativePaths) {
  test::TempDir dir;
  test::write_file(dir / "d" / "z.wav", test::make_wav(1, 1000, {1}));
  test::write_file(dir / "d" / "b" / "c.WAV", test::make_wav(1, 1000, {2}));
  test::write_file(dir / "d" / "a.wav", test::make_wav(2, 1000, {3, 4}));
  test::write_file(dir / "d" / "notes.txt", {'h', 'i'});
  std::vector<std::string> notes;
  const auto rec = host::Recording::open({dir / "d"}, {}, [&](const std::string& n) { notes.push_back(n); });
  ASSERT_EQ(rec.sources().size(), 3u);
  EXPECT_EQ(rec.sources()[0].restore_path, "a.wav");
  EXPECT_EQ(rec.sources()[1].restore_path, "b/c.WAV");
  EXPECT_EQ(rec.sources()[2].restore_path, "z.wav");
  EXPECT_EQ(rec.channel_count(), 4u);
  EXPECT_EQ(rec.channel_name(1), "a.wav:1");
  EXPECT_EQ(notes.size(), 1u);  // the skipped .txt is reported
}

// An array held in memory (Recording::from_memory) compressed into memory (compress_to_memory):
// the same archive bytes as the same samples read from a raw file and written to a file.
TEST(RoundTrip, InMemoryArrayToInMemoryArchive) {
  test::TempDir dir;
  const fs::path raw = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  const auto bytes = test::read_file(raw);
  host::EncodeOptions options;
  options.chunk_seconds = 0.05;
  const auto in_memory = host::Recording::from_memory(bytes, "cinpla32_30kHz_first6000.dat", 32, 30000.0, false);
  std::vector<std::uint8_t> archive;
  const auto report = host::compress_to_memory(in_memory, options, archive);
  EXPECT_TRUE(report.verified);
  EXPECT_EQ(report.archive_bytes, archive.size());
  const auto from_file = host::Recording::open({raw}, host::InputOptions{32u, 30000.0}, [](const std::string&) {});
  host::compress(from_file, dir / "f.spikey", options);
  EXPECT_EQ(archive, test::read_file(dir / "f.spikey"));
  const format::ArchiveReader reader(archive, "in memory");
  const auto window = host::read_window(reader, host::resolve_window(reader.metadata(), 0, 6000, {}), 1);
  EXPECT_EQ(0, std::memcmp(window.data(), bytes.data(), bytes.size()));
  EXPECT_THROW(host::Recording::from_memory(bytes, "a/b.dat", 32, 30000.0, false), host::InputError);
  EXPECT_THROW(host::Recording::from_memory(bytes, "x.dat", 0, 30000.0, false), host::InputError);
}

// ---- decoding a chunk's lane groups on several threads ----------------------------------------

// Each task runs once, after every task it waits for, on any number of threads and in the tests'
// latest-ready order; a task can only wait for tasks added before it.
TEST(DependentTasks, RunEachTaskOnceAfterTheTasksItWaitsFor) {
  std::mt19937 rng(7);
  struct Case {
    unsigned threads;
    bool latest_ready_first;
  };
  for (const Case c : {Case{1, false}, Case{1, true}, Case{2, false}, Case{4, false}, Case{16, false}}) {
    SCOPED_TRACE(std::to_string(c.threads) + " threads" + (c.latest_ready_first ? ", latest ready first" : ""));
    constexpr std::size_t kTasks = 400;
    host::codecs::DependentTasks tasks;
    std::vector<std::atomic<int>> runs(kTasks);
    std::atomic<int> early{0};
    std::vector<std::size_t> order;
    std::mutex order_mutex;
    std::vector<std::vector<std::size_t>> after(kTasks);
    for (std::size_t i = 0; i < kTasks; ++i) {
      for (std::size_t k = 0; i > 0 && k < rng() % 4; ++k) after[i].push_back(rng() % i);
      EXPECT_EQ(tasks.add(after[i], [&, i](unsigned worker) {
        EXPECT_LT(worker, std::max(1u, c.threads));
        for (const std::size_t d : after[i]) early += runs[d].load() == 0;
        if (i % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));  // later tasks overtake
        ++runs[i];
        std::lock_guard lock(order_mutex);
        order.push_back(i);
      }), i);
    }
    host::codecs::DependentTasks::run_latest_ready_first_for_tests(c.latest_ready_first);
    tasks.run(c.threads);
    host::codecs::DependentTasks::run_latest_ready_first_for_tests(false);
    EXPECT_EQ(early.load(), 0) << "a task ran before a task it waits for";
    EXPECT_TRUE(std::all_of(runs.begin(), runs.end(), [](const std::atomic<int>& r) { return r.load() == 1; }));
    EXPECT_EQ(std::is_sorted(order.begin(), order.end()), c.threads == 1 && !c.latest_ready_first);
  }
  host::codecs::DependentTasks tasks;
  tasks.add({}, [](unsigned) {});
  const std::size_t later = 1;
  EXPECT_THROW(tasks.add({&later, 1}, [](unsigned) {}), std::logic_error);
}

// A failure stops the tasks not yet started and skips those that wait for it; the error rethrown
// is the earliest-added failing task's, as in order on one thread, even when a later one fails first.
TEST(DependentTasks, RethrowTheEarliestFailureAndSkipWhatWaitsForIt) {
  for (const unsigned threads : {1u, 2u, 4u}) {
    host::codecs::DependentTasks tasks;
    std::atomic<bool> dependent_ran{false};
    for (std::size_t i = 0; i < 60; ++i) {
      if (i == 20) {
        tasks.add({}, [](unsigned) {
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
          throw std::runtime_error("task 20");
        });
      } else if (i == 21) {
        tasks.add({}, [](unsigned) { throw std::runtime_error("task 21"); });
      } else if (i == 22) {
        const std::size_t failing = 20;
        tasks.add({&failing, 1}, [&](unsigned) { dependent_ran = true; });
      } else {
        tasks.add({}, [](unsigned) {});
      }
    }
    try {
      tasks.run(threads);
      ADD_FAILURE() << "no error on " << threads << " threads";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "task 20") << threads << " threads";
    }
    EXPECT_FALSE(dependent_ran.load()) << threads << " threads";
  }
}

namespace {

// 1024 channels at 30 kHz, 3000 frames: the bundled sample's 32 real channels 32 times, each copy
// shifted in time (a real chunk's worth of lane groups, 128 per chunk). Returns its frames.
std::vector<std::int16_t> write_shifted_wide_wav(const fs::path& path) {
  const auto raw = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto* samples = reinterpret_cast<const std::int16_t*>(raw.data());
  const std::size_t frames = raw.size() / 64, kept = 3000;
  std::vector<std::int16_t> interleaved;
  for (std::size_t t = 0; t < kept; ++t)
    for (std::size_t c = 0; c < 1024; ++c) interleaved.push_back(samples[((t + (c / 32) * 89) % frames) * 32 + c % 32]);
  test::write_file(path, test::make_wav(1024, 30000, interleaved));
  return interleaved;
}

// Every chunk of `archive` decoded with `threads` threads (latest ready first: one thread, the
// groups out of order), all channels or `channels`.
std::vector<host::DecodedChunk> decode_all(const format::ArchiveReader& reader, unsigned threads, bool latest_ready_first,
                                           std::span<const std::uint32_t> channels = {}) {
  host::codecs::DependentTasks::run_latest_ready_first_for_tests(latest_ready_first);
  std::vector<host::DecodedChunk> out;
  try {
    out = host::decode_chunks(reader, 0, reader.index().size(), channels, {.threads = threads, .samples_per_thread = 1});  // threads for any size
  } catch (...) {
    host::codecs::DependentTasks::run_latest_ready_first_for_tests(false);
    throw;
  }
  host::codecs::DependentTasks::run_latest_ready_first_for_tests(false);
  return out;
}

}  // namespace

// The chunks' lane groups shared by threads give the same samples as one thread, and as the
// groups run in the latest order their sources allow (a source left out of a group's waits then
// decodes wrong every time), at every level and with the older codecs mo2 and rice1, for all
// channels and for a few whose sources are decoded too; a window within one chunk reads the same
// on 8 threads. Real data: the bundled
// 32-channel Intan sample, and 1024 channels built from it (many groups per chunk).
TEST(Decoding, ChunksGroupsOnSeveralThreadsGiveTheSameSamples) {
  test::TempDir out;
  const fs::path narrow = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  const fs::path wide = out / "wide.wav";
  write_shifted_wide_wav(wide);
  struct Case {
    const char* level;
    const char* codec;  // non-empty: this codec (the older families' decoders), 32 channels only
  };
  for (const Case c : {Case{"fast", ""}, Case{"default", ""}, Case{"max", ""}, Case{"default", "mo2"}, Case{"default", "rice1"}}) {
    for (const bool is_wide : {false, true}) {
      if (is_wide && *c.codec != 0) continue;
      SCOPED_TRACE(std::string("level ") + c.level + " " + c.codec + (is_wide ? ", 1024 channels" : ", 32 channels"));
      host::EncodeOptions options;
      options.level = c.level;
      options.codec = c.codec;
      options.threads = 2;
      options.chunk_seconds = is_wide ? 0.03 : 0.1;
      const auto r = is_wide ? compress_files({wide}, out / "w.spikey", options) : compress_files({narrow}, out / "n.spikey", options, {32u, 30000.0});
      const format::ArchiveReader reader(r.archive);
      const format::Metadata& meta = reader.metadata();
      std::size_t with_sources = 0;
      for (const auto& channel : meta.channels) with_sources += channel.predictor.source_channel() >= 0 || !channel.predictor.sources.empty();
      if (std::string(c.codec) != "rice1")  // the one codec without sources
        EXPECT_GE(with_sources, std::min<std::size_t>(16, meta.channels.size() / 4)) << "too few channels predicted from others to test the order of groups";
      const auto recording = host::Recording::open({is_wide ? wide : narrow}, is_wide ? host::InputOptions{} : host::InputOptions{32u, 30000.0}, ignore_note);
      const auto one = decode_all(reader, 1, false);
      ASSERT_EQ(one.size(), meta.chunk_count());
      for (const auto& chunk : one) {
        std::vector<std::int16_t> expected;
        recording.gather(chunk.first_sample, format::channels_in_chunk(meta, chunk.first_sample, meta.chunk_sample_count(chunk.chunk)), expected);
        ASSERT_EQ(chunk.samples, expected) << "chunk " << chunk.chunk;
      }
      for (const auto& [threads, latest] : {std::pair{1u, true}, std::pair{2u, false}, std::pair{3u, false}, std::pair{8u, false}}) {
        const auto got = decode_all(reader, threads, latest);
        for (std::size_t i = 0; i < got.size(); ++i)
          EXPECT_EQ(got[i].samples, one[i].samples) << threads << " threads" << (latest ? ", latest ready first" : "") << ", chunk " << i;
      }
      const std::vector<std::uint32_t> few = {3, 17, 30};
      const auto few_one = decode_all(reader, 1, false, few), few_many = decode_all(reader, 5, false, few), few_latest = decode_all(reader, 1, true, few);
      for (std::size_t i = 0; i < few_one.size(); ++i) {
        EXPECT_EQ(few_many[i].samples, few_one[i].samples) << "chunk " << i;
        EXPECT_EQ(few_latest[i].samples, few_one[i].samples) << "chunk " << i;
        for (std::size_t j = 0; j < few.size(); ++j) {
          const auto whole = one[i].channel_samples(few[j]), part = few_one[i].channel_samples(few[j]);
          EXPECT_TRUE(std::equal(whole.begin(), whole.end(), part.begin(), part.end())) << "chunk " << i << ", channel " << few[j];
        }
      }
      const auto window = host::resolve_window(meta, meta.chunk_samples + 10, 2 * meta.chunk_samples - 10, {});
      EXPECT_EQ(host::read_window(reader, window, 8), host::read_window(reader, window, 1));
    }
  }
}

// Damaged streams in a chunk give the error of the first in order, whatever the threads. At
// levels default and max a call decodes independent lane groups two at a time where its groups
// are many for its threads (always on one thread; on 64, the 1024 channels' groups go one at a
// time), so damage in either group of a pair is checked against the groups alone.
TEST(Decoding, DamagedStreamsGiveTheSameErrorOnAnyThreads) {
  test::TempDir out;
  const fs::path narrow = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  const fs::path wide = out / "wide.wav";
  write_shifted_wide_wav(wide);
  struct Case {
    const char* level;
    bool wide;
    std::vector<unsigned> threads;
  };
  for (const Case& c : {Case{"fast", false, {1, 2, 4, 8}}, Case{"default", false, {1, 2, 4, 8}}, Case{"max", false, {1, 2, 4, 8}},
                        Case{"default", true, {1, 2, 64}}}) {
    SCOPED_TRACE(std::string("level ") + c.level + (c.wide ? ", 1024 channels" : ", 32 channels"));
    host::EncodeOptions options;
    options.level = c.level;
    options.chunk_seconds = c.wide ? 0.03 : 1;
    const auto r = c.wide ? compress_files({wide}, out / "a.spikey", options) : compress_files({narrow}, out / "a.spikey", options, {32u, 30000.0});
    const format::ArchiveReader reader(r.archive);
    const format::Metadata& meta = reader.metadata();
    const auto present = format::channels_in_chunk(meta, 0, meta.chunk_sample_count(0));
    std::vector<std::size_t> every(present.channel.size());
    std::iota(every.begin(), every.end(), std::size_t{0});
    std::vector<std::vector<std::size_t>> damage_sets = {{9, 25}, {25}, {2}, {30}, {2, 30}, every};
    if (c.wide) damage_sets.insert(damage_sets.end(), {{500}, {8, 500}, {16, 24}, {512, 520}, {1000, 1008}});
    for (const auto& damaged : damage_sets) {
      auto payload = reader.read_payload(0);
      const auto dir = format::parse_payload_directory(payload, present.channel.size(), 0, 0, reader.format_version());
      for (const std::size_t p : damaged)  // bytes in the middle of the streams, and their last bytes
        for (std::size_t b = 0; b < 8; ++b) {
          payload[dir.stream_offset[p] + dir.stream_size[p] / 2 + b] ^= 0x5a;
          payload[dir.stream_offset[p] + dir.stream_size[p] - 1 - b] ^= 0xa5;
        }
      const host::PayloadInput in{0, payload, reader.payload_offset(0), nullptr};
      std::string first;
      for (const unsigned threads : c.threads) {
        try {
          host::decode_payloads(meta, reader.format_version(), {&in, 1}, {}, {.threads = threads, .samples_per_thread = 1});
          ADD_FAILURE() << "damaged streams decoded on " << threads << " threads";
        } catch (const format::ArchiveError& e) {
          if (first.empty()) first = e.what();
          EXPECT_EQ(e.what(), first) << threads << " threads, " << damaged.size() << " streams damaged from " << damaged[0];
        }
      }
    }
  }
}

// A window's columns, whatever their order: runs of ascending channels (transposed in blocks,
// whole or with edges), gaps, descending lists and repeats, across chunk borders, on one thread
// and in time slices on three (1024 channels), equal the original frames, also when read
// straight into a buffer of exactly the window's size (any other size is refused).
TEST(Window, ColumnsInAnyOrderEqualTheOriginal) {
  test::TempDir out;
  const fs::path wide = out / "wide.wav";
  const auto frames = write_shifted_wide_wav(wide);
  host::EncodeOptions options;
  options.level = "fast";
  options.chunk_seconds = 0.05;  // 1500 frames: a whole chunk of all channels is interleaved in time slices
  const auto r = compress_files({wide}, out / "a.spikey", options);
  const format::ArchiveReader reader(r.archive);
  std::vector<std::uint32_t> all(1024), descending(40), mixed;
  std::iota(all.begin(), all.end(), 0u);
  for (std::uint32_t i = 0; i < 40; ++i) descending[i] = 500 - i;
  for (const std::uint32_t c : {7u, 8u, 9u, 10u, 11u, 12u, 13u, 14u, 15u, 3u, 3u, 100u, 101u, 1023u, 0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 10u})
    mixed.push_back(c);
  struct Case {
    std::vector<std::uint32_t> channels;
    std::uint64_t start, end;
  };
  for (const Case& c : {Case{all, 0, 3000}, Case{all, 1495, 2811}, Case{all, 1003, 1010}, Case{descending, 450, 2000}, Case{mixed, 17, 2999},
                        Case{{5}, 880, 920}, Case{{64, 65, 66, 67, 68, 69, 70, 71, 72}, 1, 1800}}) {
    const auto w = host::resolve_window(reader.metadata(), c.start, c.end, c.channels);
    for (const unsigned threads : {1u, 3u}) {
      const auto got = host::read_window(reader, w, threads);
      ASSERT_EQ(got.size(), w.frames() * c.channels.size());
      std::size_t wrong = 0;
      for (std::uint64_t t = w.start; t < w.end; ++t)
        for (std::size_t j = 0; j < c.channels.size(); ++j) wrong += got[(t - w.start) * c.channels.size() + j] != frames[t * 1024 + c.channels[j]];
      EXPECT_EQ(wrong, 0u) << c.channels.size() << " channels from " << c.channels[0] << ", samples " << c.start << "-" << c.end << ", "
                           << threads << " threads";
      std::vector<std::int16_t> into(got.size() + 1, 7);  // straight into a buffer (the Python arrays'), which must fit exactly
      host::read_window_into(reader, w, threads, std::span(into).first(got.size()));
      EXPECT_TRUE(std::equal(got.begin(), got.end(), into.begin()));
      EXPECT_EQ(into.back(), 7);
      EXPECT_THROW(host::read_window_into(reader, w, threads, into), std::invalid_argument);
    }
  }
}
