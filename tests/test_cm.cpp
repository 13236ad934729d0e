// Codec cm1 (level max): the rANS coder, the integer model math, streams on real data and the
// whole encoder at level max.
#include <gtest/gtest.h>

#include <array>

#include <cmath>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/codecs/stored_models.hpp"
#include "spikey/format/codecs/cm/cm_stream.hpp"
#include "spikey/format/codecs/cm/cm_tables.hpp"
#include "codecs/cm/cm_training.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/model.hpp"
#include "spikey/host/recording.hpp"
#include "test_support.hpp"

using namespace spikey;
using namespace spikey::format;
namespace fs = std::filesystem;

namespace {

void ignore_note(const std::string&) {}

std::vector<std::int16_t> wav_samples(const fs::path& path) {
  const auto bytes = test::read_file(path);
  const auto* s = reinterpret_cast<const std::int16_t*>(bytes.data() + 44);
  return {s, s + (bytes.size() - 44) / 2};
}

// A model that a real recording trains: three bundled N1 files.
Metadata trained_metadata(const std::vector<fs::path>& inputs, host::InputOptions input_options = {}) {
  const auto recording = host::Recording::open(inputs, input_options, ignore_note);
  host::EncodeOptions options;
  options.level = "max";
  const MetadataSection surveyed = host::survey_recording(recording, options);
  const host::Model model = host::train_model(recording, surveyed, kCodecCm1, options);
  Metadata meta = surveyed.metadata;
  meta.codec = model.codec;
  for (std::size_t c = 0; c < meta.channels.size(); ++c) meta.channels[c].predictor = model.predictors[c];
  return meta;
}

// Encodes one channel's codes as a cm1 stream and decodes it back.
struct StreamRoundTrip {
  std::vector<std::uint8_t> stream;
  std::vector<std::int32_t> decoded;
  bool ok = false;
};

// The channel's predictor without its sources: these tests code one channel alone.
ChannelPredictor alone(ChannelPredictor p) {
  p.sources.clear();
  return p;
}

StreamRoundTrip round_trip(const Metadata& meta, const ChannelPredictor& predictor, const ValueMap& map, const std::vector<std::int32_t>& codes,
                           bool adapt) {
  const CmModelTables model(meta.codec);
  const CmTables tables = model.for_map(map);
  CmNormaliserCache cache(static_cast<std::uint32_t>(meta.codec.cm_prior.size()));
  const auto n = static_cast<std::uint32_t>(codes.size());
  MoModel m = mo_model_of(predictor, meta.codec);
  if (!adapt) m.lms_step = 0;
  std::vector<std::int32_t> weights = initial_weights(predictor), history(mo_history_buffer_size(n)),
                             wavelet(static_cast<std::size_t>(m.levels) * wavelet_buffer_size(n) + 1), features(kMoStateSize),
                             residuals(n);
  mo_residuals(m, codes.data(), n, weights.data(), history.data(), wavelet.data(), features.data(), nullptr, residuals.data());
  std::vector<CmSymbol> symbols(max_cm_symbols(n));
  std::vector<std::uint8_t> scratch(max_cm_stream_bytes(n)), out(max_cm_stream_bytes(n));
  StreamRoundTrip r;
  const std::uint64_t size = encode_cm_stream(tables, CmCachedNormaliser{&tables, &cache}, codes.data(), residuals.data(), n, adapt,
                                              symbols.data(), scratch.data(), out.data());
  r.stream.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(size));
  weights = initial_weights(predictor);
  r.decoded.assign(n, 0);
  const MoModel stored = mo_model_of(predictor, meta.codec);
  r.ok = decode_cm_stream(tables, CmCachedNormaliser{&tables, &cache}, stored, r.stream.data(), r.stream.size(), n, weights.data(),
                          history.data(), wavelet.data(), features.data(), nullptr, r.decoded.data());
  return r;
}

}  // namespace

// ---- rANS ---------------------------------------------------------------------------------

TEST(Rans, RoundTripsSkewedSymbolsAndRawBitsNearTheIdealLength) {
  std::mt19937 rng(7);
  // Symbols over [0, 2^16): frequencies from 1 (rarest possible) to nearly all of the range.
  struct Symbol {
    std::uint32_t cum, freq;
    int bits;  // > 0: a raw-bits symbol of this width (value in cum)
  };
  std::vector<Symbol> symbols;
  double ideal = 0;
  for (int i = 0; i < 200000; ++i) {
    const int kind = static_cast<int>(rng() % 4);
    if (kind == 0) {
      const int bits = 1 + static_cast<int>(rng() % 16);
      symbols.push_back({static_cast<std::uint32_t>(rng() & ((1u << bits) - 1)), 0, bits});
      ideal += bits;
    } else {
      const std::uint32_t freq = kind == 1 ? 1 + rng() % 8 : (kind == 2 ? 60000 + rng() % 5000 : 1 + rng() % 4000);
      const std::uint32_t cum = rng() % (kRansTotal - freq + 1);
      symbols.push_back({cum, freq, 0});
      ideal += std::log2(static_cast<double>(kRansTotal) / freq);
    }
  }
  std::vector<std::uint8_t> buffer(4 * symbols.size() + 16);
  RansEncoder enc{kRansLow, buffer.data() + buffer.size()};
  for (std::size_t i = symbols.size(); i-- > 0;) {
    if (symbols[i].bits > 0) enc.put_bits(symbols[i].cum, symbols[i].bits);
    else enc.put(symbols[i].cum, symbols[i].freq);
  }
  const auto emitted = static_cast<std::uint64_t>(buffer.data() + buffer.size() - enc.cursor);
  // Within 0.1% of the ideal code length, plus the flushed state.
  EXPECT_LT(static_cast<double>(emitted * 8), ideal * 1.001 + 32);

  RansDecoder dec;
  dec.state = enc.state;
  dec.bytes = enc.cursor;
  dec.count = emitted;
  for (const auto& s : symbols) {
    if (s.bits > 0) {
      ASSERT_EQ(dec.get_bits(s.bits), s.cum);
    } else {
      const std::uint32_t slot = dec.slot();
      ASSERT_GE(slot, s.cum);
      ASSERT_LT(slot, s.cum + s.freq);
      dec.advance(s.cum, s.freq);
    }
  }
  EXPECT_TRUE(dec.finished_cleanly());
}

// The encoder divides by multiplying with rans_reciprocals(): the quotient of every
// frequency, at the states next to each multiple of it and at the ends of the range the
// encoder divides (below freq * 2^16), and at random states up to 2^32 - 1.
TEST(Rans, ReciprocalsGiveEveryQuotient) {
  const std::uint64_t* reciprocals = rans_reciprocals();
  std::mt19937 rng(5);
  for (std::uint32_t freq = 1; freq <= kRansTotal; ++freq) {
    const std::uint64_t top = std::uint64_t{freq} << kRansProbabilityBits;  // the encoder's states are below it
    std::vector<std::uint64_t> states = {0, 1, freq - 1u, freq, freq + 1u, top - 1, top - freq, top - freq - 1, 0xffffffffull, 0xfffffffeull};
    for (int i = 0; i < 24; ++i) {
      const std::uint64_t multiple = std::uint64_t{freq} * (rng() % (std::uint64_t{0xffffffffull} / freq + 1));
      states.push_back(multiple);
      if (multiple > 0) states.push_back(multiple - 1);
      states.push_back(rng());
    }
    for (const std::uint64_t state : states) {
      if (state > 0xffffffffull) continue;
      const auto s = static_cast<std::uint32_t>(state);
      ASSERT_EQ(rans_quotient(s, freq, reciprocals), s / freq) << "state " << s << ", frequency " << freq;
    }
  }
}

// The segments' put_with_headroom stores both renormalisation bytes and moves the cursor by
// their count: the same state and bytes as put()'s loop, for every kind of symbol (frequency 1,
// the largest, raw bits, states that emit zero, one and two bytes).
TEST(Rans, PutWithHeadroomEmitsWhatPutEmits) {
  std::mt19937 rng(11);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> symbols;
  for (int i = 0; i < 200000; ++i) {
    std::uint32_t freq = 0;
    switch (rng() % 5) {
      case 0: freq = 1; break;
      case 1: freq = kRansTotal - kCmEscapeFrequency; break;
      case 2: freq = 1u << (rng() % 17); break;
      default: freq = 1 + rng() % (kRansTotal - 1); break;
    }
    if (freq > kRansTotal) freq = kRansTotal;
    symbols.emplace_back(static_cast<std::uint32_t>(rng() % (kRansTotal - freq + 1)), freq);
  }
  std::vector<std::uint8_t> looped(2 * symbols.size() + 8), stored(looped.size());
  RansEncoder a{kRansLow, looped.data() + looped.size()}, b{kRansLow, stored.data() + stored.size()};
  std::array<std::uint32_t, 3> bytes_per_put{};
  for (const auto& [cum, freq] : symbols) {
    const std::uint8_t* before = a.cursor;
    a.put(cum, freq);
    b.put_with_headroom(cum, freq);
    ASSERT_EQ(a.state, b.state);
    ASSERT_EQ(looped.data() + looped.size() - a.cursor, stored.data() + stored.size() - b.cursor);
    ++bytes_per_put.at(static_cast<std::size_t>(before - a.cursor));
  }
  EXPECT_TRUE(std::equal(a.cursor, looped.data() + looped.size(), b.cursor));
  for (const std::uint32_t count : bytes_per_put) EXPECT_GT(count, 1000u);  // every path taken
  // The states at each side of the two bounds: freq << 16 (one byte) and freq << 24 (two).
  for (std::uint32_t freq = 1; freq <= kRansTotal; ++freq)
    for (const std::uint64_t bound : {std::uint64_t{freq} << 16, std::uint64_t{freq} << 24})
      for (const std::uint64_t state : {bound - 1, bound, bound + 1}) {
        if (state < kRansLow || state > 0xffffffffull) continue;
        std::array<std::uint8_t, 4> x{}, y{};
        RansEncoder p{static_cast<std::uint32_t>(state), x.data() + x.size()}, q{static_cast<std::uint32_t>(state), y.data() + y.size()};
        p.put(0, freq);
        q.put_with_headroom(0, freq);
        ASSERT_EQ(p.state, q.state) << "state " << state << ", frequency " << freq;
        ASSERT_EQ(p.cursor - x.data(), q.cursor - y.data()) << "state " << state << ", frequency " << freq;
        ASSERT_TRUE(std::equal(p.cursor, x.data() + x.size(), q.cursor)) << "state " << state << ", frequency " << freq;
      }
}

TEST(Rans, ATruncatedStreamIsNotClean) {
  std::vector<std::uint8_t> buffer(1024);
  RansEncoder enc{kRansLow, buffer.data() + buffer.size()};
  for (int i = 0; i < 200; ++i) enc.put_bits(static_cast<std::uint32_t>(i * 37) & 0xfffu, 12);
  const auto emitted = static_cast<std::uint64_t>(buffer.data() + buffer.size() - enc.cursor);
  RansDecoder dec;
  dec.state = enc.state;
  dec.bytes = enc.cursor;
  dec.count = emitted - 1;
  for (int i = 0; i < 200; ++i) dec.get_bits(12);
  EXPECT_FALSE(dec.finished_cleanly());
}

// ---- model math ---------------------------------------------------------------------------

TEST(CmModel, IntegerExponentialsMatchTheRealOnes) {
  for (int i = 0; i <= 1024; ++i) {
    const std::uint64_t f = (std::uint64_t{1} << 30) * static_cast<std::uint64_t>(i) / 1024;
    const double expected = std::exp2(static_cast<double>(f) / (1 << 30));
    EXPECT_NEAR(static_cast<double>(cm_exp2_fraction_q30(f)) / (1 << 30), expected, std::ldexp(expected, -26)) << i;
  }
  for (int m = -200; m <= 200; m += 7)
    EXPECT_NEAR(static_cast<double>(cm_exp2_ratio_q30(m, 16)) / (1 << 30), std::exp2(m / 16.0), std::ldexp(std::exp2(m / 16.0), -25) + 2e-9) << m;
  // Wider components for larger indices.
  for (int g = 1; g < 256; ++g) EXPECT_GE(cm_gauss_ratio(static_cast<std::uint8_t>(g)), cm_gauss_ratio(static_cast<std::uint8_t>(g - 1))) << g;
  for (int l = 1; l < 256; ++l) EXPECT_GE(cm_laplace_ratio(static_cast<std::uint8_t>(l)), cm_laplace_ratio(static_cast<std::uint8_t>(l - 1))) << l;
  // rho = 2^-(2^((56 - g) / 8)): g = 56 gives exactly 1/2.
  EXPECT_NEAR(static_cast<double>(cm_gauss_ratio(56)) / 4294967296.0, 0.5, 1e-9);
}

TEST(CmModel, ShapesStartAtTheTopAndNeverRise) {
  std::vector<std::uint16_t> table(kCmMaxHalfWidth + 1);
  for (int g = 0; g < 256; g += 5)
    for (int l = 0; l < 256; l += 17)
      for (int w : {0, 1, 16, 128, 255}) {
        const int h = cm_build_shape({static_cast<std::uint8_t>(g), static_cast<std::uint8_t>(l), static_cast<std::uint8_t>(w), 0}, table.data());
        ASSERT_GE(h, 0);
        ASSERT_LE(h, kCmMaxHalfWidth);
        ASSERT_EQ(table[0], 65535);
        for (int j = 1; j <= h; ++j) {
          ASSERT_GT(table[static_cast<std::size_t>(j)], 0);
          ASSERT_LE(table[static_cast<std::size_t>(j)], table[static_cast<std::size_t>(j - 1)]);
        }
      }
}

// cm_build_shape, built from the components' terms, equals the recurrence as SPEC.md states it
// in one loop, for every gauss and laplace parameter at several weights.
TEST(CmModel, ShapesFromTheTermsEqualTheRecurrence) {
  std::vector<std::uint16_t> table(kCmMaxHalfWidth + 1), expected(kCmMaxHalfWidth + 1);
  for (int g = 0; g < 256; ++g)
    for (int l = g % 7; l < 256; l += 7)
      for (const int w : {0, 1, 77, 128, 255}) {
        const std::uint64_t rho = cm_gauss_ratio(static_cast<std::uint8_t>(g)), lambda = cm_laplace_ratio(static_cast<std::uint8_t>(l));
        const std::uint64_t rho2 = (rho * rho) >> 32;
        std::uint64_t gt = std::uint64_t{1} << 31, lt = std::uint64_t{1} << 31, step = rho;
        int expected_h = 0;
        for (int j = 0; j <= kCmMaxHalfWidth; ++j) {
          const std::uint64_t v = (gt * (256 - static_cast<std::uint64_t>(w)) + lt * static_cast<std::uint64_t>(w)) >> 23;
          if (v == 0) break;
          expected[static_cast<std::size_t>(j)] = static_cast<std::uint16_t>(v > 65535 ? 65535 : v);
          expected_h = j;
          gt = (gt * step) >> 32;
          step = (step * rho2) >> 32;
          lt = (lt * lambda) >> 32;
        }
        const int h = cm_build_shape({static_cast<std::uint8_t>(g), static_cast<std::uint8_t>(l), static_cast<std::uint8_t>(w), 0}, table.data());
        ASSERT_EQ(h, expected_h) << g << " " << l << " " << w;
        for (int j = 0; j <= h; ++j) ASSERT_EQ(table[static_cast<std::size_t>(j)], expected[static_cast<std::size_t>(j)]) << g << " " << l << " " << w << " " << j;
      }
}

TEST(CmModel, ScaleClassesCoverTheRangeInOrder) {
  int previous = 0;
  for (std::int32_t scale = 0; scale <= 16 * static_cast<std::int32_t>(kCmMagnitudeClamp); ++scale) {
    const int k = cm_class_of(scale);
    ASSERT_GE(k, previous);
    ASSERT_LT(k, kCmClasses);
    previous = k;
  }
  EXPECT_EQ(cm_class_of(0), 0);
  EXPECT_EQ(cm_class_of(16 * static_cast<std::int32_t>(kCmMagnitudeClamp)), kCmClasses - 1);
  // The running mean stays within [0, 16 * clamp] for any residual, even INT32_MIN.
  std::int32_t scale = kCmScaleStart;
  for (const std::int32_t z : {0, 5, -5, 1 << 30, std::numeric_limits<std::int32_t>::min(), 0, 0})
    for (int rate = kCmMinScaleRate; rate <= kCmMaxScaleRate; ++rate) {
      const std::int32_t next = cm_next_scale(scale, z, rate);
      ASSERT_GE(next, 0);
      ASSERT_LE(next, 16 * static_cast<std::int32_t>(kCmMagnitudeClamp));
      scale = next;
    }
}

TEST(CmModel, ClassesOutsideTheStoredRunFollowItsEnds) {
  const std::vector<CmShape> stored = {{100, 110, 8, 0}, {104, 116, 9, 0}};
  const auto all = cm_complete_shapes(stored, 20);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kCmClasses));
  EXPECT_EQ(all[20].gauss, 100);
  EXPECT_EQ(all[21].laplace, 116);
  EXPECT_EQ(all[19].gauss, 96);
  EXPECT_EQ(all[0].gauss, 20);
  EXPECT_EQ(all[22].gauss, 108);
  // Past the widening limit the buckets double instead.
  int shift = 0;
  for (int k = 22; k < kCmClasses; ++k) {
    EXPECT_LE(all[static_cast<std::size_t>(k)].gauss, kCmWidenLimit);
    EXPECT_GE(all[static_cast<std::size_t>(k)].shift, shift);
    shift = all[static_cast<std::size_t>(k)].shift;
  }
  EXPECT_GT(shift, 0);
}

TEST(CmModel, ResidualsSplitIntoBucketsAndBack) {
  for (int shift = 0; shift <= kCmMaxShift; ++shift)
    for (std::int32_t z = -5000; z <= 5000; z += 3) {
      const std::int32_t j = cm_bucket(z, shift);
      const std::uint32_t low = cm_low_bits(z, j, shift);
      ASSERT_LT(low, 1u << shift);
      ASSERT_EQ(cm_residual(j, low, shift), z);
    }
}

// ---- streams on real data -----------------------------------------------------------------

// The host cache of (class, phase) distributions gives every coder the walk's numbers: the
// normaliser, the start of any position (kept ones and past them) and the position of any slot,
// asked in random order so that its starts grow both ways; bases near and past the code range's
// ends (no entry there) and classes with a bucket shift included.
TEST(CmModel, CachedStartsAndSearchEqualTheWalk) {
  const Metadata meta = trained_metadata({test::samples_dir() / "neuralink"});
  const CmModelTables model(meta.codec);
  const CmTables t = model.for_map(meta.channels[0].value_map);
  CmNormaliserCache cache(static_cast<std::uint32_t>(meta.codec.cm_prior.size()));
  const CmCachedNormaliser cached{&t, &cache};
  std::mt19937 random(11);
  int past_kept = 0, searched = 0, outside = 0, shifted = 0;
  for (int i = 0; i < 40000; ++i) {
    const int k = static_cast<int>(random() % kCmClasses);
    const std::int32_t base = t.code_low - 300 + static_cast<std::int32_t>(random() % static_cast<std::uint32_t>(t.code_high - t.code_low + 601));
    const std::uint64_t normaliser = cm_normaliser(t, k, base);
    ASSERT_EQ(cached.distribution(k, base).normaliser, normaliser) << "class " << k << " base " << base;
    outside += cm_window_inside(t, k, base) ? 0 : 1;
    shifted += t.shift[k] != 0 ? 1 : 0;
    const CmCachedCum cum_of = cached.distribution(k, base);
    const CmWalkedCum walk{&t, k, base, normaliser};
    const auto positions = 2u * static_cast<std::uint32_t>(t.half_width[k]) + 1u;
    if (random() % 2 == 0) {
      const std::uint32_t position = static_cast<std::uint32_t>(random() % positions);
      past_kept += position > CmNormaliserCache::kCumPositions ? 1 : 0;
      ASSERT_EQ(cum_of(position), walk(position)) << "class " << k << " base " << base << " position " << position;
    } else {
      const std::uint32_t slot = kCmEscapeFrequency + static_cast<std::uint32_t>(random() % (kRansTotal - kCmEscapeFrequency));
      std::uint32_t position[2] = {}, start[2] = {}, freq[2] = {};
      const bool found = cum_of.locate(slot, &position[0], &start[0], &freq[0]);
      ASSERT_EQ(found, walk.locate(slot, &position[1], &start[1], &freq[1])) << "class " << k << " base " << base << " slot " << slot;
      if (found) {
        ASSERT_EQ(position[0], position[1]) << "class " << k << " base " << base << " slot " << slot;
        ASSERT_EQ(start[0], start[1]);
        ASSERT_EQ(freq[0], freq[1]);
        ++searched;
      }
    }
  }
  EXPECT_GT(past_kept, 100);
  EXPECT_GT(searched, 1000);
  EXPECT_GT(outside, 100);
  EXPECT_GT(shifted, 100);
}

TEST(CmStream, RealN1ChannelRoundTripsWithAndWithoutAdaptation) {
  const fs::path dir = test::samples_dir() / "neuralink";
  const Metadata meta = trained_metadata({dir});
  ASSERT_EQ(codec_row(meta.codec.name).coder, ResidualCoder::context_rans);
  const auto samples = wav_samples(dir / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav");
  std::vector<std::int32_t> codes;
  for (std::size_t t = 0; t < 19531; ++t) codes.push_back(value_to_code(meta.channels[1].value_map, samples[t]));
  for (const bool adapt : {false, true}) {
    const auto r = round_trip(meta, alone(meta.channels[1].predictor), meta.channels[1].value_map, codes, adapt);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.decoded, codes);
    // N1 codes carry about 4.6 bits each at this level.
    EXPECT_LT(r.stream.size() * 8, codes.size() * 5);
  }
  // One sample, and two.
  for (std::size_t n : {1u, 2u}) {
    const std::vector<std::int32_t> few(codes.begin(), codes.begin() + static_cast<std::ptrdiff_t>(n));
    const auto r = round_trip(meta, alone(meta.channels[1].predictor), meta.channels[1].value_map, few, false);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.decoded, few);
  }
}

TEST(CmStream, JumpsFarOutsideTheWindowEscape) {
  const fs::path dir = test::samples_dir() / "neuralink";
  const Metadata meta = trained_metadata({dir});
  const auto samples = wav_samples(dir / "3830d316-1af4-4496-be1a-553298450516.wav");
  // Real codes with rail-to-rail jumps spliced in (real data lacks them): residuals of about
  // ±1023 lie past every window and take the escape.
  std::vector<std::int32_t> codes;
  for (std::size_t t = 0; t < 4000; ++t) codes.push_back(value_to_code(meta.channels[0].value_map, samples[t]));
  for (std::size_t t = 100; t < codes.size(); t += 97) codes[t] = (t / 97) % 2 == 0 ? 0 : 1023;
  const auto r = round_trip(meta, alone(meta.channels[0].predictor), meta.channels[0].value_map, codes, true);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.decoded, codes);
}

TEST(CmStream, DamagedStreamsFailOrDecodeDifferentlyWithoutCrashing) {
  const fs::path dir = test::samples_dir() / "neuralink";
  const Metadata meta = trained_metadata({dir});
  const auto samples = wav_samples(dir / "d24add11-a9d6-4583-9f03-eedab99eaa7a.wav");
  std::vector<std::int32_t> codes;
  for (std::size_t t = 0; t < 2000; ++t) codes.push_back(value_to_code(meta.channels[2].value_map, samples[t]));
  const ChannelPredictor predictor = alone(meta.channels[2].predictor);
  const auto good = round_trip(meta, predictor, meta.channels[2].value_map, codes, true);
  ASSERT_TRUE(good.ok);
  const CmModelTables model(meta.codec);
  const CmTables tables = model.for_map(meta.channels[2].value_map);
  CmNormaliserCache cache(static_cast<std::uint32_t>(meta.codec.cm_prior.size()));
  const auto n = static_cast<std::uint32_t>(codes.size());
  const MoModel m = mo_model_of(predictor, meta.codec);
  std::vector<std::int32_t> history(mo_history_buffer_size(n)), wavelet(static_cast<std::size_t>(m.levels) * wavelet_buffer_size(n) + 1),
      features(kMoStateSize), decoded(n);
  int rejected = 0;
  for (std::size_t i = 0; i < good.stream.size(); ++i) {
    auto damaged = good.stream;
    damaged[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
    std::vector<std::int32_t> weights = initial_weights(predictor);
    const bool ok = decode_cm_stream(tables, CmCachedNormaliser{&tables, &cache}, m, damaged.data(), damaged.size(), n, weights.data(),
                                     history.data(), wavelet.data(), features.data(), nullptr, decoded.data());
    if (!ok) ++rejected;
    else EXPECT_NE(decoded, codes) << "flip at byte " << i << " went unnoticed";
  }
  // The stream's own checks catch most flips; the chunk checksums catch the rest.
  EXPECT_GT(rejected, static_cast<int>(good.stream.size() / 2));
  // Truncated by one byte: never clean.
  std::vector<std::int32_t> weights = initial_weights(predictor);
  EXPECT_FALSE(decode_cm_stream(tables, CmCachedNormaliser{&tables, &cache}, m, good.stream.data(), good.stream.size() - 1, n, weights.data(),
                                history.data(), wavelet.data(), features.data(), nullptr, decoded.data()));
}

// ---- metadata -----------------------------------------------------------------------------

TEST(CmMetadata, ModelSurvivesTheJsonAndBadModelsAreRefused) {
  const Metadata meta = trained_metadata({test::samples_dir() / "neuralink"});
  const CodecParams back = codec_from_json(codec_to_json(meta.codec));
  ASSERT_EQ(back.cm_shapes.size(), meta.codec.cm_shapes.size());
  for (std::size_t k = 0; k < back.cm_shapes.size(); ++k) {
    EXPECT_EQ(back.cm_shapes[k].gauss, meta.codec.cm_shapes[k].gauss);
    EXPECT_EQ(back.cm_shapes[k].shift, meta.codec.cm_shapes[k].shift);
  }
  EXPECT_EQ(back.cm_prior, meta.codec.cm_prior);
  EXPECT_EQ(back.cm_scale_rate, meta.codec.cm_scale_rate);
  const auto refused = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json j = codec_to_json(meta.codec);
    j[key] = value;
    EXPECT_THROW(codec_from_json(j), ArchiveError) << key << " = " << value;
  };
  refused("prior", std::string(6, 'a'));       // period 3
  refused("prior", "");                         // no prior at all
  refused("prior", "0g");                       // not hex
  refused("shapes", "0102030");                 // half a byte
  refused("shapes", "010203ff");                // bucket shift 255
  refused("first_class", kCmClasses);
  refused("scale_rate", kCmMaxScaleRate + 1);
}

// ---- the encoder at level max -------------------------------------------------------------

TEST(LevelMax, BundledSamplesRoundTripSmallerThanDefault) {
  test::TempDir out;
  const auto recording = host::Recording::open({test::samples_dir() / "neuralink"}, {}, ignore_note);
  host::EncodeOptions options;
  options.overwrite = true;
  options.level = "max";
  const auto max = host::compress(recording, out / "max.spikey", options);
  options.level = "default";
  const auto def = host::compress(recording, out / "default.spikey", options);
  EXPECT_EQ(codec_row(max.codec).coder, ResidualCoder::context_rans) << max.codec;
  EXPECT_TRUE(max.verified);
  EXPECT_LT(max.archive_bytes, def.archive_bytes);
  const ArchiveReader reader(out / "max.spikey");
  EXPECT_EQ(reader.format_version(), kFormatVersion);
  host::RestoreOptions restore;
  restore.output_directory = out / "restored";
  const auto report = host::restore_sources(reader, restore);
  EXPECT_TRUE(report.mismatched_files.empty());
  for (const auto& s : reader.metadata().sources)
    EXPECT_EQ(test::read_file(out / "restored" / s.path), test::read_file(test::samples_dir() / "neuralink" / s.path));
}

TEST(LevelMax, AllNeuralinkFilesInOneArchive) {
  SPIKEY_SKIP_CORPUS_WIDE_IN_SANITIZED_BUILD();
  SPIKEY_REQUIRE_SHARED("neuralink");
  const fs::path dir = test::shared_data_dir() / "neuralink";
  test::TempDir out;
  const auto recording = host::Recording::open({dir}, {}, ignore_note);
  host::EncodeOptions options;
  options.level = "max";
  options.threads = 2;
  const auto report = host::compress(recording, out / "nl.spikey", options);  // verified by a full decode
  EXPECT_TRUE(report.verified);
  const double ratio = static_cast<double>(report.original_bytes) / static_cast<double>(report.archive_bytes);
  RecordProperty("ratio", std::to_string(ratio));
  // Issue 6 asked for 3.52; format version 10 spends 0.19% of this archive on the metadata copy
  // and the stream checks (bench/RESULTS.md), so the codec's 3.52 shows here as 3.513.
  EXPECT_GE(ratio, 3.512) << "issue 6: ratio >= 3.52 on the 303 files in one archive, less version 10's 0.19%";
}

TEST(LevelMax, EveryMultiChannelSetRoundTrips) {
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
    const auto recording = host::Recording::open({input}, {set.channels, set.rate}, ignore_note);
    host::EncodeOptions options;
    options.level = "max";
    options.threads = 2;
    const auto report = host::compress(recording, out / "a.spikey", options);
    EXPECT_TRUE(report.verified);
    const ArchiveReader reader(out / "a.spikey");
    host::RestoreOptions restore;
    restore.output_directory = out / "restored";
    EXPECT_TRUE(host::restore_sources(reader, restore).mismatched_files.empty());
    EXPECT_EQ(test::read_file(out / "restored" / reader.metadata().sources[0].path), test::read_file(input));
  }
}
