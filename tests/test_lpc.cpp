// Codec lpc1: Golomb coding, the predictor and stream (scalar reference), the lockstep
// kernel against the reference, and predictor training.
#include <gtest/gtest.h>

#include <random>

#include "spikey/format/codecs/common/golomb.hpp"
#include "spikey/format/codecs/common/golomb_stream.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/value_map.hpp"
#include "codecs/lpc/lpc_lanes.hpp"
#include "codecs/lpc/lpc_training.hpp"
#include "codecs/training_common.hpp"
#include "spikey/format/codecs/stored_models.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "test_support.hpp"

using namespace spikey;
using namespace spikey::format;

namespace {

// Codes of a real N1 channel (bundled sample), `count` of them from `offset`.
std::vector<std::int32_t> real_codes(const char* file, std::size_t offset, std::size_t count) {
  const auto wav = test::read_file(test::samples_dir() / "neuralink" / file);
  const auto* samples = reinterpret_cast<const std::int16_t*>(wav.data() + 44);
  const std::size_t total = (wav.size() - 44) / 2;
  std::vector<std::int32_t> codes;
  for (std::size_t i = offset; i < std::min(total, offset + count); ++i)
    codes.push_back(value_to_code({ValueMapKind::n1_10bit}, samples[i]));
  return codes;
}

const char* kFileA = "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav";
const char* kFileB = "d24add11-a9d6-4583-9f03-eedab99eaa7a.wav";  // recorded with A
const char* kRails = "3830d316-1af4-4496-be1a-553298450516.wav";

struct RandomModel {
  LpcModel model;
  std::vector<std::int32_t> weights;
};

RandomModel random_model(std::mt19937& rng, bool with_source) {
  RandomModel m;
  m.model.order = static_cast<int>(rng() % (kMaxLpcOrder + 1));
  m.model.source_half_window = with_source ? static_cast<int>(rng() % (kMaxSourceHalfWindow + 1)) : -1;
  m.model.weight_shift = 12;
  m.model.lms_step = static_cast<std::int32_t>(rng() % 3) * 2;
  for (int i = 0; i < m.model.taps(); ++i) m.weights.push_back(static_cast<std::int32_t>(rng() % 4001) - 2000);
  if (m.model.order > 0) m.weights[static_cast<std::size_t>(m.model.order - 1)] = 3000;  // something like a predictor
  if (rng() % 5 == 0)
    for (auto& w : m.weights) w = (rng() % 2) ? kMaxLpcWeight : -kMaxLpcWeight;  // extreme weights: overflow bound
  return m;
}

}  // namespace

TEST(Golomb, DivisorsAreHalfOctaves) {
  EXPECT_EQ(golomb_divisor(0), 1u);
  EXPECT_EQ(golomb_divisor(1), 2u);
  EXPECT_EQ(golomb_divisor(2), 3u);
  EXPECT_EQ(golomb_divisor(3), 4u);
  EXPECT_EQ(golomb_divisor(4), 6u);
  EXPECT_EQ(golomb_divisor(5), 8u);
  EXPECT_EQ(golomb_divisor(6), 12u);
  EXPECT_EQ(golomb_divisor(kMaxGolombIndex), 3u << 23);
  for (std::uint32_t x : {0u, 1u, 2u, 3u, 4u, 299u, 300u, 0x7fffffffu, 0xfffffffeu, 0xffffffffu}) EXPECT_EQ(divide_by_3(x), x / 3);
}

TEST(Golomb, CodewordsRoundTripAndMatchTheirLengths) {
  std::mt19937 rng(21);
  for (int index = 0; index <= kMaxGolombIndex; ++index) {
    const std::uint32_t m = golomb_divisor(index);
    std::vector<std::uint32_t> values = {0, 1, 2, m - 1, m, m + 1, 23 * m, 24 * m - 1, 24 * m, 0xffffffffu};
    for (int i = 0; i < 300; ++i) values.push_back(static_cast<std::uint32_t>(rng()) >> (rng() % 32));
    std::vector<std::uint32_t> words(values.size() * 2 + 2);
    BitWriter w(words.data());
    std::uint64_t expected_bits = 0;
    for (auto u : values) {
      const auto before = w.bits_written();
      golomb_encode(w, u, index);
      ASSERT_EQ(w.bits_written() - before, static_cast<std::uint64_t>(golomb_codeword_bits(u, index))) << "u=" << u << " j=" << index;
      expected_bits += static_cast<std::uint64_t>(golomb_codeword_bits(u, index));
    }
    EXPECT_EQ(golomb_partition_bits(values.data(), static_cast<int>(values.size()), index), expected_bits) << "index " << index;
    const auto n = w.finish();
    BitReader r(reinterpret_cast<const std::uint8_t*>(words.data()), n * 4ull);
    for (auto u : values) ASSERT_EQ(golomb_decode(r, index), u) << "index " << index;
    EXPECT_FALSE(r.overran());
  }
}

// golomb_decode_run takes codewords from a register between peeks: the same values and the
// same position as golomb_decode one by one, for every index, with escapes and long codewords
// next to short ones (so that codewords straddle the register's valid bits), and on streams
// cut short (the reader's zeros past the end decode the same in both).
TEST(Golomb, RunsDecodeAsCodewordsOneByOne) {
  std::mt19937 rng(23);
  for (int index = 0; index <= kMaxGolombIndex; ++index) {
    const std::uint32_t m = golomb_divisor(index);
    std::vector<std::uint32_t> values;
    for (int i = 0; i < 2000; ++i) {
      const auto pick = rng() % 16;
      values.push_back(pick == 0 ? 24 * m + rng() % 1000 : pick == 1 ? 23 * m + rng() % m : static_cast<std::uint32_t>(rng() % (3 * m)));
    }
    std::vector<std::uint32_t> words(values.size() * 2 + 2);
    BitWriter w(words.data());
    for (auto u : values) golomb_encode(w, u, index);
    const auto n = w.finish();
    for (const std::uint64_t bytes : {n * 4ull, n * 2ull, 13ull, 0ull}) {
      const auto* data = reinterpret_cast<const std::uint8_t*>(words.data());
      for (const std::uint32_t first : {0u, 1u, 7u}) {  // runs starting at different bit positions
        BitReader one(data, bytes), run(data, bytes);
        std::vector<std::uint32_t> expected(values.size()), got(values.size(), 12345);
        for (std::uint32_t i = 0; i < first; ++i) expected[i] = golomb_decode(one, index);
        for (std::uint32_t i = first; i < values.size(); ++i) expected[i] = golomb_decode(one, index);
        if (bytes == n * 4ull) ASSERT_EQ(expected, values) << "index " << index;
        for (std::uint32_t i = 0; i < first; ++i) got[i] = golomb_decode(run, index);
        golomb_decode_run(run, index, static_cast<std::uint32_t>(values.size()) - first, got.data() + first);
        ASSERT_EQ(got, expected) << "index " << index << ", " << bytes << " bytes, from codeword " << first;
        ASSERT_EQ(run.position_bits(), one.position_bits()) << "index " << index << ", " << bytes << " bytes";
        ASSERT_EQ(run.overran(), one.overran());
      }
    }
  }
}

TEST(Golomb, IndexFieldsRoundTripIncludingEscapes) {
  const std::vector<int> indices = {5, 5, 6, 4, 48, 0, 7, 22, 21, 0, 0, 48};
  std::vector<std::uint32_t> words(64);
  BitWriter w(words.data());
  int previous = 0;
  std::uint64_t bits = 0;
  for (std::uint32_t p = 0; p < indices.size(); ++p) {
    write_golomb_index(w, p, indices[p], previous);
    bits += static_cast<std::uint64_t>(golomb_index_field_bits(p, indices[p], previous));
    previous = indices[p];
  }
  EXPECT_EQ(w.bits_written(), bits);
  w.finish();
  BitReader r(reinterpret_cast<const std::uint8_t*>(words.data()), words.size() * 4);
  previous = 0;
  for (std::uint32_t p = 0; p < indices.size(); ++p) {
    previous = read_golomb_index(r, p, previous);
    ASSERT_EQ(previous, indices[p]);
  }
  // An index field of 63 (> 48) is invalid.
  std::uint32_t bad = 63;
  BitReader rb(reinterpret_cast<const std::uint8_t*>(&bad), 4);
  EXPECT_EQ(read_golomb_index(rb, 0, 0), -1);
}

TEST(Golomb, ChosenIndexIsNoWorseThanItsNeighbours) {
  const auto codes = real_codes(kFileA, 0, 20000);
  std::vector<std::uint32_t> folded;
  for (std::size_t t = 1; t < codes.size(); ++t) folded.push_back(zigzag_encode(codes[t] - codes[t - 1]));
  for (std::size_t start = 0; start + 256 <= folded.size(); start += 256) {
    const int j = golomb_index_for_partition(folded.data() + start, 256);
    const auto bits = golomb_partition_bits(folded.data() + start, 256, j);
    if (j > 0) EXPECT_LE(bits, golomb_partition_bits(folded.data() + start, 256, j - 1));
    if (j < kMaxGolombIndex) EXPECT_LE(bits, golomb_partition_bits(folded.data() + start, 256, j + 1));
  }
}

// The GPU's warp per partition (choose_index_kernel): 32 lanes' strided sums add up to the
// partition's bits at every index, and the search from golomb_start_index of the lanes' sum
// with that cost chooses golomb_index_for_partition's index; partitions shorter and longer than
// a warp, real residuals with an escape-sized outlier.
TEST(Golomb, LanesOfAWarpChooseTheSameIndex) {
  const auto codes = real_codes(kFileA, 0, 20000);
  std::vector<std::uint32_t> folded;
  for (std::size_t t = 1; t < codes.size(); ++t) folded.push_back(zigzag_encode(codes[t] - codes[t - 1]));
  folded[4000] = 0xfffffff0u;  // an escape wherever it lands
  std::size_t start = 0;
  for (const int count : {1, 5, 31, 32, 33, 256, 257, 1000, 4096}) {
    const std::uint32_t* p = folded.data() + start;
    start += static_cast<std::size_t>(count);
    const auto lanes_bits = [&](int index) {
      std::uint64_t bits = 0;
      for (int lane = 0; lane < 32; ++lane) bits += golomb_partition_bits_strided(p, count, index, lane, 32);
      return bits;
    };
    for (int index = 0; index <= kMaxGolombIndex; ++index) EXPECT_EQ(lanes_bits(index), golomb_partition_bits(p, count, index)) << count;
    std::uint64_t sum = 0;
    for (int lane = 0; lane < 32; ++lane)
      for (int i = lane; i < count; i += 32) sum += p[i];
    EXPECT_EQ(walk_to_cheapest(golomb_start_index(sum, count), kMaxGolombIndex, lanes_bits), golomb_index_for_partition(p, count)) << count;
  }
}

// The source buffer's layout (lpc_predictor.hpp): W zeros, then the clamped differences
// c_s[t] - c_s[t - 1] for 1 <= t < min(n_source, n + W) at W + t, zeros everywhere else; every
// entry written, whatever the memory held before.
TEST(LpcStream, SourceBufferHoldsTheClampedDifferencesAndZerosElsewhere) {
  const auto source = real_codes(kRails, 0, 600);
  for (const std::uint32_t n : {1u, 2u, 7u, 300u}) {
    for (const std::uint32_t n_source : {0u, 1u, 2u, n - 1, n, n + 3, n + kMaxSourceHalfWindow, n + kMaxSourceHalfWindow + 5}) {
      std::vector<std::int32_t> buffer(source_buffer_size(n), 0x5a5a5a5a);
      fill_source_buffer(source.data(), n_source, n, buffer.data());
      for (std::uint32_t i = 0; i < buffer.size(); ++i) {
        const std::int64_t t = std::int64_t{i} - kMaxSourceHalfWindow;
        const bool filled = t >= 1 && t < std::min<std::int64_t>(n_source, std::int64_t{n} + kMaxSourceHalfWindow);
        const std::int32_t expected = filled ? clamp_history(source[static_cast<std::size_t>(t)] - source[static_cast<std::size_t>(t - 1)]) : 0;
        ASSERT_EQ(buffer[i], expected) << "n " << n << ", n_source " << n_source << ", entry " << i;
      }
    }
  }
}

TEST(LpcStream, RoundTripsRealDataUnderRandomModels) {
  std::mt19937 rng(4);
  const auto source = real_codes(kFileB, 0, 6000);
  for (int trial = 0; trial < 60; ++trial) {
    const std::uint32_t n = 1 + static_cast<std::uint32_t>(rng() % 5000);
    auto codes = real_codes(trial % 3 == 0 ? kRails : kFileA, rng() % 1000, n);
    const RandomModel m = random_model(rng, trial % 2 == 1);
    const std::uint32_t n_source = static_cast<std::uint32_t>(rng() % 6000);  // shorter or longer than the channel
    std::vector<std::int32_t> source_buffer(source_buffer_size(n));
    fill_source_buffer(source.data(), n_source, n, source_buffer.data());

    std::vector<std::int32_t> weights = m.weights, history(lpc_history_buffer_size(n));
    std::vector<std::uint32_t> folded(n);
    lpc_fold_residuals(m.model, codes.data(), n, weights.data(), history.data(), source_buffer.data(), folded.data());
    const std::uint32_t partition = 1 + static_cast<std::uint32_t>(rng() % 300);
    std::vector<std::uint8_t> indices(n / partition + 2);
    golomb_partition_indices(folded.data(), n - 1, partition, indices.data());
    std::vector<std::uint32_t> words(max_golomb_stream_words(n, partition));
    const bool adapt = m.model.lms_step != 0;
    words.resize(encode_golomb_stream(codes[0], adapt, folded.data(), n - 1, partition, indices.data(), words.data()));

    std::int32_t first = 0;
    bool flag = false;
    std::vector<std::uint32_t> decoded_folded(n);
    ASSERT_TRUE(decode_golomb_stream_residuals(reinterpret_cast<const std::uint8_t*>(words.data()), words.size() * 4ull, n, partition, &first,
                                            &flag, decoded_folded.data()));
    EXPECT_EQ(flag, adapt);
    std::vector<std::int32_t> decoded(n);
    weights = m.weights;
    lpc_reconstruct(m.model, first, decoded_folded.data(), n, weights.data(), history.data(), source_buffer.data(), decoded.data());
    ASSERT_EQ(decoded, codes) << "trial " << trial;
  }
}

TEST(LpcStream, RejectsDamagedStreams) {
  const auto codes = real_codes(kFileA, 0, 3000);
  const auto n = static_cast<std::uint32_t>(codes.size());
  LpcModel model;
  model.order = 4;
  std::vector<std::int32_t> weights = {0, 0, -1000, 4000}, history(lpc_history_buffer_size(n)), source(source_buffer_size(n));
  std::vector<std::uint32_t> folded(n);
  lpc_fold_residuals(model, codes.data(), n, weights.data(), history.data(), source.data(), folded.data());
  std::vector<std::uint8_t> indices(n);
  golomb_partition_indices(folded.data(), n - 1, 256, indices.data());
  std::vector<std::uint32_t> words(max_golomb_stream_words(n, 256));
  words.resize(encode_golomb_stream(codes[0], false, folded.data(), n - 1, 256, indices.data(), words.data()));
  std::int32_t first;
  bool flag;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(words.data());
  EXPECT_FALSE(decode_golomb_stream_residuals(bytes, words.size() * 4ull - 4, n, 256, &first, &flag, folded.data()));
  auto longer = words;
  longer.push_back(0);
  EXPECT_FALSE(decode_golomb_stream_residuals(reinterpret_cast<const std::uint8_t*>(longer.data()), longer.size() * 4ull, n, 256, &first, &flag,
                                           folded.data()));
  auto bad_index = words;
  bad_index[1] |= 0x7eu;  // first partition's index field (bits 33..38) set to 63
  EXPECT_FALSE(decode_golomb_stream_residuals(reinterpret_cast<const std::uint8_t*>(bad_index.data()), bad_index.size() * 4ull, n, 256, &first,
                                           &flag, folded.data()));
}

// The lockstep kernel equals the scalar reference, group after group on one thread (scratch
// reuse), with every lane count, mixed orders, windows and steps.
// The training's correlations of every lag at once, in 16 bits, equal the 32-bit sums lag by
// lag: real clamped differences (two N1 channels recorded together, and the rails file) of every
// length around a vector and a block, at the bound and beyond it (where the 32-bit sums are used).
TEST(LpcTraining, LaggedDotsEqualTheSumsLagByLag) {
  const auto differences = [](const std::vector<std::int32_t>& codes) {
    std::vector<std::int32_t> c(codes.size(), 0);
    for (std::size_t t = 1; t < codes.size(); ++t) c[t] = clamp_history(codes[t] - codes[t - 1]);
    return c;
  };
  const auto a_all = differences(real_codes(kFileA, 1000, 6000)), b_all = differences(real_codes(kFileB, 1000, 6000));
  const auto rails = differences(real_codes(kRails, 0, 6000));
  int compared = 0;
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17}, std::size_t{255},
                              std::size_t{256}, std::size_t{257}, std::size_t{5000}}) {
    for (int variant = 0; variant < 4; ++variant) {
      std::vector<std::int32_t> a(a_all.begin(), a_all.begin() + static_cast<std::ptrdiff_t>(n));
      std::vector<std::int32_t> b(variant == 1 ? rails.begin() : b_all.begin(), (variant == 1 ? rails.begin() : b_all.begin()) + static_cast<std::ptrdiff_t>(n));
      if (variant == 2 && n > 3) b.resize(n - 3);  // lengths differ
      if (variant == 3)
        for (std::size_t t = 0; t < a.size(); ++t) a[t] = t % 3 == 0 ? kLpcHistoryClamp : (t % 3 == 1 ? -kLpcHistoryClamp : a[t]);
      for (const bool beyond : {false, true}) {
        if (beyond && !a.empty()) a[a.size() / 2] = kLpcHistoryClamp + 53;  // outside the bound: the 32-bit path (whose blocks still fit an int32)
        constexpr int kLags = 40;
        std::vector<double> all(kLags + 1, -1.0);
        spikey::host::training::lagged_dots(a, b, kLags, all.data());
        std::vector<double> own(kLags + 1, -1.0);  // an autocorrelation: the same series twice
        spikey::host::training::lagged_dots(a, a, kLags, own.data());
        for (int lag = 0; lag <= kLags; ++lag) {
          ASSERT_EQ(all[static_cast<std::size_t>(lag)], spikey::host::training::lagged_dot(a, b, lag)) << "n " << n << " variant " << variant << " lag " << lag;
          ASSERT_EQ(own[static_cast<std::size_t>(lag)], spikey::host::training::lagged_dot(a, a, lag)) << "n " << n << " variant " << variant << " lag " << lag;
          ++compared;
        }
      }
    }
  }
  EXPECT_GT(compared, 0);
}

TEST(LpcLanes, EqualTheScalarReference) {
  std::mt19937 rng(9);
  const auto pool = real_codes(kFileA, 0, 40000);
  const auto other = real_codes(kFileB, 0, 40000);
  for (int trial = 0; trial < 40; ++trial) {
    host::lanes::LpcLaneGroup group;
    group.lanes = 1 + trial % host::lanes::kLanes;
    group.n = 1 + static_cast<std::uint32_t>(rng() % (trial % 4 == 0 ? 20 : 4000));
    std::vector<RandomModel> models;
    std::vector<std::vector<std::int32_t>> codes(static_cast<std::size_t>(group.lanes)), sources(static_cast<std::size_t>(group.lanes));
    for (int l = 0; l < group.lanes; ++l) {
      models.push_back(random_model(rng, rng() % 2 == 0));
      const std::size_t offset = rng() % (pool.size() - group.n);
      codes[static_cast<std::size_t>(l)].assign(pool.begin() + static_cast<std::ptrdiff_t>(offset),
                                                pool.begin() + static_cast<std::ptrdiff_t>(offset + group.n));
      sources[static_cast<std::size_t>(l)].assign(source_buffer_size(group.n), 0);
      fill_source_buffer(other.data() + offset, static_cast<std::uint32_t>(rng() % (group.n + 8)), group.n,
                             sources[static_cast<std::size_t>(l)].data());
    }
    std::vector<std::vector<std::uint32_t>> reference(static_cast<std::size_t>(group.lanes), std::vector<std::uint32_t>(group.n));
    std::vector<std::vector<std::uint32_t>> folded(static_cast<std::size_t>(group.lanes), std::vector<std::uint32_t>(group.n));
    std::vector<std::vector<std::int32_t>> decoded(static_cast<std::size_t>(group.lanes), std::vector<std::int32_t>(group.n));
    const std::int32_t* in[host::lanes::kLanes] = {};
    std::uint32_t* out[host::lanes::kLanes] = {};
    const std::uint32_t* folded_in[host::lanes::kLanes] = {};
    std::int32_t* codes_out[host::lanes::kLanes] = {};
    std::int32_t first[host::lanes::kLanes] = {};
    for (int l = 0; l < group.lanes; ++l) {
      const auto i = static_cast<std::size_t>(l);
      group.model[l] = models[i].model;
      group.weights[l] = models[i].weights.data();
      group.source_buffer[l] = models[i].model.source_half_window >= 0 ? sources[i].data() : nullptr;
      std::vector<std::int32_t> w = models[i].weights, history(lpc_history_buffer_size(group.n));
      std::vector<std::int32_t> zero_source(source_buffer_size(group.n), 0);
      lpc_fold_residuals(models[i].model, codes[i].data(), group.n, w.data(), history.data(),
                         group.source_buffer[l] ? sources[i].data() : zero_source.data(), reference[i].data());
      in[l] = codes[i].data();
      out[l] = folded[i].data();
      folded_in[l] = reference[i].data();
      codes_out[l] = decoded[i].data();
      first[l] = codes[i][0];
    }
    host::lanes::lpc_fold(group, in, out);
    host::lanes::lpc_reconstruct(group, first, folded_in, codes_out);
    for (std::size_t l = 0; l < static_cast<std::size_t>(group.lanes); ++l) {
      ASSERT_TRUE(std::equal(folded[l].begin(), folded[l].begin() + group.n - 1, reference[l].begin())) << "trial " << trial << " lane " << l;
      ASSERT_EQ(decoded[l], codes[l]) << "trial " << trial << " lane " << l;
    }
  }
  RecordProperty("instruction_set", host::lanes::instruction_set());
}

namespace {

// Trains lpc1 on `inputs` and checks each channel's LMS step against the scalar reference: kept
// exactly where, in some trial chunk, the adapting weights fold to a smaller sum than the fixed
// ones. Counts the channels that kept and that lost their step.
void expect_steps_where_adapting_wins(const std::vector<std::filesystem::path>& inputs, const host::InputOptions& input, double chunk_seconds,
                                      int& kept, int& stopped) {
  const auto recording = host::Recording::open(inputs, input, [](const std::string&) {});
  host::EncodeOptions encode;
  encode.chunk_seconds = chunk_seconds;
  Metadata meta = host::survey_recording(recording, encode).metadata;
  meta.codec.name = "lpc1";
  host::PredictorTrainingOptions options;
  options.threads = 3;
  host::train_lpc_predictors(recording, meta, options);
  std::vector<char> wins(meta.channels.size(), 0);
  for (const std::uint64_t chunk : host::training::training_chunks(meta, options.adapt_trial_samples)) {
    ChunkChannels present;
    const auto codes = host::training::chunk_codes(recording, meta, chunk, present);
    for (std::size_t i = 0; i < present.channel.size(); ++i) {
      const ChannelPredictor& predictor = meta.channels[present.channel[i]].predictor;
      const auto n = static_cast<std::uint32_t>(codes[i].size());
      std::vector<std::int32_t> source(source_buffer_size(n), 0), history(lpc_history_buffer_size(n));
      if (predictor.source_channel() >= 0 && present.position(predictor.source_channel()) >= 0) {
        const auto& from = codes[static_cast<std::size_t>(present.position(predictor.source_channel()))];
        fill_source_buffer(from.data(), static_cast<std::uint32_t>(from.size()), n, source.data());
      }
      std::uint64_t sums[2] = {};
      for (const std::int32_t step : {0, options.lms_step}) {
        LpcModel model = lpc_model_of(predictor, meta.codec.weight_shift);
        model.lms_step = step;
        std::vector<std::int32_t> weights = initial_weights(predictor);
        std::vector<std::uint32_t> folded(n);
        lpc_fold_residuals(model, codes[i].data(), n, weights.data(), history.data(), source.data(), folded.data());
        for (std::uint32_t t = 0; t + 1 < n; ++t) sums[step != 0] += folded[t];
      }
      if (sums[1] < sums[0]) wins[present.channel[i]] = 1;
    }
  }
  for (std::size_t c = 0; c < meta.channels.size(); ++c) {
    EXPECT_EQ(meta.channels[c].predictor.lms_step, wins[c] ? options.lms_step : 0) << inputs.front() << ", channel " << c;
    ++(wins[c] ? kept : stopped);
  }
}

}  // namespace

// lpc1's training stops the adapting weights of the channels where they lose in every trial
// chunk, and only those: real N1 files, cinpla's 32 channels in short chunks, and Open Ephys'
// filtered demo (where adapting weights pay) when ../shared/data has it.
TEST(LpcTraining, ChannelsAdaptExactlyWhereAdaptingWinsATrialChunk) {
  int kept = 0, stopped = 0;
  std::vector<std::filesystem::path> n1;
  for (const char* file : {kFileA, kFileB, kRails}) n1.push_back(test::samples_dir() / "neuralink" / file);
  expect_steps_where_adapting_wins(n1, {}, 1.0, kept, stopped);
  expect_steps_where_adapting_wins({test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, {32u, 30000.0}, 0.05, kept, stopped);
  const auto demo = test::shared_data_dir() / "oe_demo_cortex16_filtered";
  if (std::filesystem::exists(demo)) expect_steps_where_adapting_wins({demo}, {}, 1.0, kept, stopped);
  EXPECT_GT(kept, 0);
  EXPECT_GT(stopped, 0);
  RecordProperty("kept", kept);
  RecordProperty("stopped", stopped);
}

TEST(LpcTraining, LevinsonRecoversAnAutoregressiveProcess) {
  // x[t] = 1.2 x[t-1] - 0.5 x[t-2] + noise: autocorrelation from a long realisation.
  std::mt19937 rng(1);
  std::normal_distribution<double> noise(0, 1);
  std::vector<double> x(200000, 0);
  for (std::size_t t = 2; t < x.size(); ++t) x[t] = 1.2 * x[t - 1] - 0.5 * x[t - 2] + noise(rng);
  std::vector<double> r(5, 0);
  for (std::size_t k = 0; k < r.size(); ++k)
    for (std::size_t t = k; t < x.size(); ++t) r[k] += x[t] * x[t - k];
  const auto lev = host::levinson(r);
  ASSERT_EQ(lev.coefficients[2].size(), 2u);
  EXPECT_NEAR(lev.coefficients[2][0], 1.2, 0.02);
  EXPECT_NEAR(lev.coefficients[2][1], -0.5, 0.02);
  EXPECT_NEAR(lev.residual_energy[2] / static_cast<double>(x.size()), 1.0, 0.05);
  EXPECT_LT(lev.residual_energy[4], lev.residual_energy[1]);
}
