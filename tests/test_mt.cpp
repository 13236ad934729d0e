// Codecs mt1-mt3 (level default, format 9): the tables against the context model's direct
// frequencies, the lockstep decoder against the reference symbol decoder, segment boundaries,
// corrupt streams, and round trips on real data.
#include <gtest/gtest.h>

#include <bit>
#include <limits>
#include <random>

#include "codecs/mt/mt_heads.hpp"
#include "codecs/mt/mt_lanes.hpp"
#include "codecs/mt/mt_tables.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/format/codecs/cm/cm_tables.hpp"
#include "spikey/format/codecs/mt/mt_stream.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/model.hpp"
#include "test_support.hpp"

using namespace spikey;
using namespace spikey::format;
namespace fs = std::filesystem;

namespace {

void ignore_note(const std::string&) {}

const fs::path kCinpla = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";

// A trained mt model: the bundled cinpla slice at level default.
CodecParams trained_codec() {
  const auto recording = host::Recording::open({kCinpla}, {32u, 30000.0}, ignore_note);
  host::EncodeOptions options;
  options.chunk_seconds = 0.05;
  const MetadataSection surveyed = host::survey_recording(recording, options);
  return host::train_model(recording, surveyed, kCodecMt1, options).codec;
}

// The context model's tables for the mt codecs: cm's, with no code range.
CmTables unranged(const CmModelTables& model) {
  CmTables t = model.for_map(ValueMap{});
  t.code_low = std::numeric_limits<std::int32_t>::min();
  t.code_high = std::numeric_limits<std::int32_t>::max();
  return t;
}

host::EncodeOptions default_level(double chunk_seconds) {
  host::EncodeOptions options;
  options.chunk_seconds = chunk_seconds;
  options.overwrite = true;
  options.threads = 2;
  return options;
}

// Lane `lane`'s residuals z[t * stride + lane] (t < steps) coded with the reference symbols as
// one segment, the scale carried as the decoder carries it; `visited` gains each step's class.
std::vector<std::uint8_t> reference_segment(const host::codecs::MtTables& tables, const std::vector<std::int32_t>& z,
                                            const std::vector<std::int32_t>& base, int lane, int stride, int steps,
                                            std::uint64_t* visited = nullptr) {
  std::vector<CmSymbol> symbols;
  std::int32_t scale = kCmScaleStart;
  for (int t = 0; t < steps; ++t) {
    const std::size_t i = static_cast<std::size_t>(t) * static_cast<std::size_t>(stride) + static_cast<std::size_t>(lane);
    if (visited != nullptr) *visited |= std::uint64_t{1} << cm_class_of(scale);
    CmSymbol s[4];
    const int n = mt_residual_symbols(tables.table(cm_class_of(scale), base[i]), z[i], s);
    symbols.insert(symbols.end(), s, s + n);
    scale = cm_next_scale(scale, z[i], tables.scale_rate());
  }
  std::vector<std::uint8_t> out(mt_max_segment_bytes(static_cast<std::uint32_t>(steps)));
  RansEncoder rans{kRansLow, out.data() + out.size()};
  for (std::size_t k = symbols.size(); k-- > 0;) rans.put(symbols[k].cum, symbols[k].freq);  // put(), not the segments' put_with_headroom
  out.erase(out.begin(), out.begin() + (mt_finish_segment(rans) - out.data()));
  return out;
}

}  // namespace

TEST(MtModel, TablesHoldTheContextModelsFrequencies) {
  const CodecParams codec = trained_codec();
  ASSERT_LE(codec.cm_prior.size(), kMtMaxPriorPeriod);
  const CmModelTables model(codec);
  const CmTables cm = unranged(model);
  const host::codecs::MtTables tables(codec);
  // Every class at every phase: the normaliser from the weights summed over the window (the
  // tables sum them folded onto the prior's period).
  for (int k = 0; k < kCmClasses; ++k)
    for (std::int32_t phase = 0; phase <= static_cast<std::int32_t>(codec.cm_prior.size()); ++phase)
      ASSERT_EQ(tables.table(k, phase).normaliser, cm_normaliser(cm, k, phase)) << "class " << k << ", phase " << phase;
  std::mt19937 random(3);
  for (int k = 0; k < kCmClasses; ++k) {
    for (int trial = 0; trial < 8; ++trial) {
      const auto base = static_cast<std::int32_t>(random() % 4096) - 2048;
      const MtTable t = tables.table(k, base);
      const std::uint64_t normaliser = cm_normaliser(cm, k, base);
      EXPECT_EQ(t.normaliser, normaliser) << "class " << k;
      std::uint32_t cum = kCmEscapeFrequency;
      for (std::uint32_t u = 0; u < t.positions(); ++u) {
        const std::uint32_t freq = cm_frequency(cm, k, base, zigzag_decode(u), normaliser);
        ASSERT_EQ(mt_cum(t, u), cum) << "class " << k << ", position " << u;
        ASSERT_EQ(t.frequency(u), freq);
        if (u < t.central) ASSERT_EQ(t.cum[u + 1] - t.cum[u], freq);
        cum += freq;
      }
    }
  }
}

#if defined(SPIKEY_TEST_AVX512_KERNELS)
namespace spikey::host::lanes::avx512 {
bool mt_decode_step(MtLaneBatch& batch, unsigned live, const std::int32_t* base, std::int32_t* z, int* failed_lane);
}
#endif

namespace {

using LockstepStep = bool (*)(host::lanes::MtLaneBatch&, unsigned, const std::int32_t*, std::int32_t*, int*);

// Random residuals of every size (escapes, tails, shifted classes) coded with the reference
// symbols and decoded by a lockstep decoder, eight lanes with different classes and bases.
void expect_lockstep_decodes_reference(LockstepStep step) {
  const CodecParams codec = trained_codec();
  const host::codecs::MtTables tables(codec);
  // Classes with a bucket shift (the high scales the escapes below reach) are decoded in the
  // lanes too: the model has some.
  ASSERT_NE(tables.plain_classes(), (std::uint64_t{1} << kCmClasses) - 1);
  std::mt19937 random(11);
  constexpr int kSteps = 3000;
  constexpr int kLanes = host::lanes::kLanes;
  for (const int lanes : {1, 5, kLanes}) {
    std::vector<std::int32_t> z(static_cast<std::size_t>(kSteps) * kLanes), base(z.size());
    for (std::size_t i = 0; i < z.size(); ++i) {
      const std::uint32_t r = random();
      z[i] = r % 97 == 0 ? static_cast<std::int32_t>(random()) : static_cast<std::int32_t>(random() % (r % 5 == 0 ? 400 : 30)) - (r % 5 == 0 ? 200 : 15);
      base[i] = static_cast<std::int32_t>(random() % 70000) - 35000;
    }
    std::vector<std::vector<std::uint8_t>> streams(kLanes);
    for (int l = 0; l < lanes; ++l) streams[static_cast<std::size_t>(l)] = reference_segment(tables, z, base, l, kLanes, kSteps);
    host::lanes::MtLaneBatch batch;
    batch.lanes = lanes;
    batch.tables = &tables;
    for (int l = 0; l < lanes; ++l) {
      RansDecoder d;
      ASSERT_TRUE(mt_start_segment(streams[static_cast<std::size_t>(l)].data(), streams[static_cast<std::size_t>(l)].size(), d));
      batch.take(l, d);
      batch.scale[l] = kCmScaleStart;
    }
    for (int t = 0; t < kSteps; ++t) {
      std::int32_t decoded[kLanes] = {};
      int failed = -1;
      ASSERT_TRUE(step(batch, (1u << lanes) - 1, base.data() + static_cast<std::size_t>(t) * kLanes, decoded, &failed)) << "lane " << failed;
      for (int l = 0; l < lanes; ++l) ASSERT_EQ(decoded[l], z[static_cast<std::size_t>(t) * kLanes + static_cast<std::size_t>(l)]) << "step " << t << ", lane " << l;
    }
    for (int l = 0; l < lanes; ++l) EXPECT_TRUE(batch.decoder(l).finished_cleanly()) << "lane " << l;
  }
}

}  // namespace

// The build the decoder dispatches to (AVX2 here), and with SPIKEY_LANES=generic the baseline
// build (ctest GenericLanes.MtEqualTheReference).
TEST(MtLanes, StepDecodesWhatTheReferenceCoded) { expect_lockstep_decodes_reference(&host::lanes::mt_decode_step); }

namespace {

// One batch's streams for the pair test: random residuals as in the test above, `lanes` lanes.
struct PairBatch {
  std::vector<std::int32_t> z, base;
  std::vector<std::vector<std::uint8_t>> streams;
  host::lanes::MtLaneBatch batch;
};

void start_pair_batch(PairBatch& p, const host::codecs::MtTables& tables, int lanes, int steps, std::mt19937& random) {
  constexpr int kLanes = host::lanes::kLanes;
  p.z.assign(static_cast<std::size_t>(steps) * kLanes, 0);
  p.base.assign(p.z.size(), 0);
  for (std::size_t i = 0; i < p.z.size(); ++i) {
    const std::uint32_t r = random();
    p.z[i] = r % 97 == 0 ? static_cast<std::int32_t>(random()) : static_cast<std::int32_t>(random() % (r % 5 == 0 ? 400 : 30)) - (r % 5 == 0 ? 200 : 15);
    p.base[i] = static_cast<std::int32_t>(random() % 70000) - 35000;
  }
  p.streams.assign(kLanes, {});
  for (int l = 0; l < lanes; ++l) p.streams[static_cast<std::size_t>(l)] = reference_segment(tables, p.z, p.base, l, kLanes, steps);
  p.batch = {};
  p.batch.lanes = lanes;
  p.batch.tables = &tables;
  for (int l = 0; l < lanes; ++l) {
    RansDecoder d;
    ASSERT_TRUE(mt_start_segment(p.streams[static_cast<std::size_t>(l)].data(), p.streams[static_cast<std::size_t>(l)].size(), d));
    p.batch.take(l, d);
    p.batch.scale[l] = kCmScaleStart;
  }
}

}  // namespace

// Two batches in one step (the decoder's groups two at a time): each decodes what the reference
// coded, with its own lane count and live lanes. A stream cut short fails its batch at the step
// the single-batch decoder fails it, and the other batch decodes on to its end, alone: after
// batch 0's failure from where it was, after batch 1's from the step batch 0 completed.
TEST(MtLanes, TwoBatchesAtOnceDecodeWhatTheReferenceCoded) {
  const CodecParams codec = trained_codec();
  const host::codecs::MtTables tables(codec);
  constexpr int kSteps = 3000, kLanes = host::lanes::kLanes;
  std::mt19937 random(23);
  for (const int cut : {-1, 0, 1}) {  // the batch whose lane 2 loses the second half of its stream (-1: none)
    PairBatch p[2];
    start_pair_batch(p[0], tables, kLanes, kSteps, random);
    start_pair_batch(p[1], tables, 5, kSteps, random);
    int single_fails_at = -1;
    if (cut >= 0) {
      auto& stream = p[cut].streams[2];
      stream.resize(stream.size() / 2);
      host::lanes::MtLaneBatch alone = p[cut].batch;
      RansDecoder d;
      ASSERT_TRUE(mt_start_segment(stream.data(), stream.size(), d));
      alone.take(2, d);
      p[cut].batch.take(2, d);
      for (int t = 0; t < kSteps && single_fails_at < 0; ++t) {
        std::int32_t z[kLanes] = {};
        int failed = -1;
        if (!host::lanes::mt_decode_step(alone, (1u << alone.lanes) - 1, p[cut].base.data() + static_cast<std::size_t>(t) * kLanes, z, &failed)) {
          single_fails_at = t;
          ASSERT_EQ(failed, 2);
        }
      }
      ASSERT_GT(single_fails_at, 0);
    }
    // Batch 1 runs 7 steps behind batch 0 (its lanes are not live before, batch 0's not after).
    constexpr int kLag = 7;
    const auto row_of = [&](int h, int t) { return h == 0 ? t : t - kLag; };
    bool alive[2] = {true, true};
    for (int t = 0; t < kSteps + kLag; ++t) {
      std::int32_t z[2][kLanes] = {};
      bool in_time[2];
      unsigned live[2];
      const std::int32_t* base[2];
      for (int h = 0; h < 2; ++h) {
        const int row = row_of(h, t);
        in_time[h] = row >= 0 && row < kSteps;
        live[h] = in_time[h] ? (1u << p[h].batch.lanes) - 1 : 0u;
        base[h] = p[h].base.data() + static_cast<std::size_t>(in_time[h] ? row : 0) * kLanes;
      }
      std::int32_t* out[2] = {z[0], z[1]};
      bool stepped[2] = {false, false};
      if (alive[0] && alive[1]) {
        int failed_batch = -1, failed_lane = -1;
        if (host::lanes::mt_decode_steps(p[0].batch, p[1].batch, live, base, out, &failed_batch, &failed_lane)) {
          stepped[0] = stepped[1] = true;
        } else {
          ASSERT_EQ(failed_batch, cut) << "step " << t;
          ASSERT_EQ(failed_lane, 2);
          ASSERT_EQ(row_of(cut, t), single_fails_at);
          alive[cut] = false;
          stepped[0] = cut == 1;  // batch 0 stepped before batch 1 failed; batch 1 had not when batch 0 failed
          if (cut == 0) {
            int failed = -1;
            ASSERT_TRUE(host::lanes::mt_decode_step(p[1].batch, live[1], base[1], z[1], &failed));
            stepped[1] = true;
          }
        }
      } else {
        const int h = alive[0] ? 0 : 1;
        int failed = -1;
        ASSERT_TRUE(host::lanes::mt_decode_step(p[h].batch, live[h], base[h], z[h], &failed));
        stepped[h] = true;
      }
      for (int h = 0; h < 2; ++h) {
        if (!stepped[h] || !in_time[h]) continue;
        const std::size_t row = static_cast<std::size_t>(row_of(h, t)) * kLanes;
        for (int l = 0; l < p[h].batch.lanes; ++l)
          ASSERT_EQ(z[h][l], p[h].z[row + static_cast<std::size_t>(l)]) << "batch " << h << ", step " << t << ", lane " << l;
      }
    }
    ASSERT_EQ(alive[0] && alive[1], cut < 0);
    for (int h = 0; h < 2; ++h)
      if (h != cut)
        for (int l = 0; l < p[h].batch.lanes; ++l) EXPECT_TRUE(p[h].batch.decoder(l).finished_cleanly()) << "batch " << h << ", lane " << l;
  }
}

// The same kernels compiled with AVX-512 enabled (lanes_avx512.cpp).
TEST(MtLanes, StepBuiltWithAvx512DecodesWhatTheReferenceCoded) {
#if defined(SPIKEY_TEST_AVX512_KERNELS)
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512dq"))
    GTEST_SKIP() << "this CPU has no AVX-512";
  expect_lockstep_decodes_reference(&host::lanes::avx512::mt_decode_step);
#else
  GTEST_SKIP() << "not an x86-64 build";
#endif
}

// Level default writes an mt codec; archives restore byte for byte with short chunks and with
// segments of a few residuals (every boundary crossed), and any thread count gives the same bytes.
TEST(MtCodec, RoundTripsRealDataAcrossSegments) {
  const auto recording = host::Recording::open({kCinpla}, {32u, 30000.0}, ignore_note);
  test::TempDir out;
  for (const std::uint32_t segment : {0u, 7u, 1000u}) {
    auto options = default_level(0.05);
    options.partition_size = segment;
    const auto report = host::compress(recording, out / "a.spikey", options);  // verified by a full decode
    EXPECT_TRUE(report.verified);
    EXPECT_EQ(codec_row(report.codec).coder, ResidualCoder::table_rans) << report.codec;
    const ArchiveReader reader(out / "a.spikey");
    EXPECT_EQ(reader.metadata().codec.partition_size, segment == 0 ? codec_row(report.codec).default_partition_size() : segment);
    options.threads = 1;
    host::compress(recording, out / "b.spikey", options);
    EXPECT_EQ(test::read_file(out / "a.spikey"), test::read_file(out / "b.spikey"));
  }
  // A window of a few channels decodes only them and their sources.
  const ArchiveReader reader(out / "a.spikey");
  const std::vector<std::uint32_t> some = {3, 17};
  const auto window = host::decode_chunk(reader, 1, some);
  const auto all = host::decode_chunk(reader, 1);
  for (const std::uint32_t c : some) {
    const auto a = window.channel_samples(c), b = all.channel_samples(c);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << c;
  }
}

// The chunk encoder finds every residual's head in a pass of its own (mt_find_heads, the table
// lookups without branches, residuals past the table by mt_residual_head): the same heads, for
// every class at phases all over the prior, residuals in the table, past it and escaped.
TEST(MtHeads, FoundInAPassEqualEachResidualsHead) {
  const host::codecs::MtTables tables(trained_codec());
  const MtTableSet& set = tables.set();
  std::mt19937 random(9);
  const std::uint32_t n = 20000;
  std::vector<std::int32_t> codes(n), z(n);
  std::vector<std::uint8_t> classes(n);
  std::uint32_t past = 0, escapes = 0, shifted = 0;
  for (std::uint32_t t = 0; t < n; ++t) {
    classes[t] = static_cast<std::uint8_t>(random() % kCmClasses);
    const int magnitude = static_cast<int>(random() % 22);  // |z| below 2^magnitude: inside, past the table, escaped
    z[t] = static_cast<std::int32_t>(random() % (2u << magnitude)) - (1 << magnitude);
    codes[t] = z[t] + static_cast<std::int32_t>(random() % 65536) - 32768;
  }
  for (const auto& [first, end] : {std::pair{1u, n}, std::pair{7u, 16391u}, std::pair{4100u, n - 3}}) {
    std::vector<std::uint32_t> heads(end - first + 1, 0xdeadbeef);
    host::codecs::mt_find_heads(tables, codes.data(), z.data(), classes.data(), first, end, heads.data());
    ASSERT_EQ(heads.back(), 0xdeadbeefu) << "past the range";
    for (std::uint32_t t = first; t < end; ++t) {
      const int k = classes[t];
      ASSERT_EQ(heads[t - first], mt_residual_head(set, k, mt_base(codes.data(), z.data(), t), z[t])) << "residual " << z[t] << ", class " << k;
      const std::int32_t j = cm_bucket(z[t], set.shift[k]);
      past += zigzag_encode(j) >= set.central[k] ? 1u : 0u;
      escapes += heads[t - first] == 0 ? 1u : 0u;
      shifted += set.shift[k] != 0 ? 1u : 0u;
    }
  }
  EXPECT_GT(past, 1000u);
  EXPECT_GT(escapes, 1000u);
  EXPECT_GT(shifted, 1000u);
}

// Every damaged stream is an error naming the chunk, channel and codec, never a crash.
TEST(MtCodec, DamagedStreamsAreErrors) {
  const auto recording = host::Recording::open({test::samples_dir() / "neuralink"}, {}, ignore_note);
  test::TempDir out;
  auto options = default_level(1.0);
  options.partition_size = 4000;
  host::compress(recording, out / "n.spikey", options);
  const ArchiveReader reader(out / "n.spikey");
  const auto payload = reader.read_payload(2);
  const auto present = channels_in_chunk(reader.metadata(), reader.metadata().chunk_first_sample(2), reader.metadata().chunk_sample_count(2));
  const PayloadDirectory dir = parse_payload_directory(payload, present.channel.size(), 2, 0);
  std::mt19937 random(5);
  int errors = 0;
  for (int trial = 0; trial < 200; ++trial) {
    auto damaged = payload;
    const std::size_t at = dir.stream_offset[0] + random() % (payload.size() - dir.stream_offset[0]);
    damaged[at] ^= static_cast<std::uint8_t>(1u << (random() % 8));
    try {
      host::decode_payload(reader.metadata(), reader.format_version(), 2, damaged, 0, {}, &reader.index()[2].samples_checksum);
    } catch (const ArchiveError& e) {
      ++errors;
      const std::string what = e.what();
      EXPECT_NE(what.find("chunk 2"), std::string::npos) << what;
    }
  }
  EXPECT_EQ(errors, 200) << "every damaged payload is detected (stream checks or the samples checksum)";
}

// The tables are built class by class as readers need them: none at first, one class for a
// table of it, every class for set() (the encoders and the device copy); the lockstep decoder
// builds exactly the classes its lanes visit, and decodes right with them.
// The lockstep decoder's 16-bit cum: every slot's cum(0 .. central) as min(cum, 2^16 - 1), then
// the pad up to the compact stride (its pairs read at u0 + 4 <= central + 4 stay in the slot).
TEST(MtTables, CompactCumIsTheCumInSixteenBitsThenThePad) {
  const host::codecs::MtTables tables(trained_codec());
  const MtTableSet& set = tables.set();
  using host::codecs::MtTables;
  std::size_t tables_checked = 0;
  for (int k = 0; k < kCmClasses; ++k)
    for (std::uint32_t phase = 0; phase <= (set.shift[k] != 0 ? 0u : set.prior_mask); ++phase) {
      const std::size_t slot = static_cast<std::size_t>(k) * MtTables::kPhases + phase;
      const std::uint32_t* cum = set.cum + slot * MtTables::kStride;
      const std::uint16_t* compact = tables.compact_cum() + slot * MtTables::kCompactStride;
      for (std::uint32_t u = 0; u <= set.central[k]; ++u)
        ASSERT_EQ(compact[u], std::min<std::uint32_t>(cum[u], 0xffff)) << "class " << k << " phase " << phase << " u " << u;
      for (std::size_t u = set.central[k] + 1; u < MtTables::kCompactStride; ++u)
        ASSERT_EQ(compact[u], MtTables::kCompactPad) << "class " << k << " phase " << phase << " u " << u;
      ++tables_checked;
    }
  EXPECT_GT(tables_checked, static_cast<std::size_t>(kCmClasses));
  EXPECT_GE(MtTables::kCompactStride, kMtCentralPositions + 1 + kMtProbePad + 1);
}

TEST(MtTables, ClassesAreBuiltWhenFirstRead) {
  const CodecParams codec = trained_codec();
  {
    const host::codecs::MtTables tables(codec);
    EXPECT_EQ(tables.built_classes(), 0u);
    const MtTable t = tables.table(9, 5);
    EXPECT_EQ(tables.built_classes(), std::uint64_t{1} << 9);
    EXPECT_EQ(t.cum[0], kCmEscapeFrequency);
    tables.set();
    EXPECT_EQ(tables.built_classes(), (std::uint64_t{1} << kCmClasses) - 1);
  }
  // Two lanes of small residuals, coded with tables of their own.
  const host::codecs::MtTables coder(codec), lazy(codec);
  constexpr int kSteps = 2000;
  std::mt19937 random(5);
  std::vector<std::int32_t> z(2 * kSteps), base(2 * kSteps);
  for (std::size_t i = 0; i < z.size(); ++i) {
    z[i] = static_cast<std::int32_t>(random() % (i % 2 == 0 ? 7 : 41)) - (i % 2 == 0 ? 3 : 20);
    base[i] = static_cast<std::int32_t>(random() % 4096) - 2048;
  }
  std::uint64_t visited = 0;
  std::vector<std::vector<std::uint8_t>> streams(2);
  for (int l = 0; l < 2; ++l) streams[static_cast<std::size_t>(l)] = reference_segment(coder, z, base, l, 2, kSteps, &visited);
  host::lanes::MtLaneBatch batch;
  batch.lanes = 2;
  batch.tables = &lazy;
  for (int l = 0; l < 2; ++l) {
    RansDecoder d;
    ASSERT_TRUE(mt_start_segment(streams[static_cast<std::size_t>(l)].data(), streams[static_cast<std::size_t>(l)].size(), d));
    batch.take(l, d);
    batch.scale[l] = kCmScaleStart;
  }
  for (int t = 0; t < kSteps; ++t) {
    std::int32_t step_base[host::lanes::kLanes] = {base[2 * static_cast<std::size_t>(t)], base[2 * static_cast<std::size_t>(t) + 1]};
    std::int32_t decoded[host::lanes::kLanes] = {};
    int failed = -1;
    ASSERT_TRUE(host::lanes::mt_decode_step(batch, 3u, step_base, decoded, &failed)) << "lane " << failed;
    for (int l = 0; l < 2; ++l) ASSERT_EQ(decoded[l], z[2 * static_cast<std::size_t>(t) + static_cast<std::size_t>(l)]) << "step " << t;
  }
  EXPECT_EQ(lazy.built_classes(), visited);
  EXPECT_GT(std::popcount(visited), 1);
  EXPECT_LT(std::popcount(visited), kCmClasses);
}
