// The shared host/device math (container_format/include/spikey/format/*.hpp), on the host.
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <vector>

#include "spikey/format/codecs/common/bitstream.hpp"
#include "spikey/format/codecs/rice1/rice1_stream.hpp"
#include "spikey/format/codecs/common/rice.hpp"
#include "spikey/format/value_map.hpp"
#include "spikey/format/codecs/common/zigzag.hpp"
#include "spikey/format/archive.hpp"
#include "spikey/format/codec_table.hpp"

using namespace spikey::format;

// The codec table is a grid: one codec per point, names unique, introduced by a known version,
// byte streams exactly for the rANS coder; and the lookups find each row again.
TEST(CodecTable, EachCodecIsOnePointOfTheGrid) {
  for (std::size_t i = 0; i < std::size(kCodecTable); ++i) {
    const CodecRow& row = kCodecTable[i];
    EXPECT_EQ(find_codec(row.name), &row);
    EXPECT_EQ(&codec_at(row.predictor, row.network, row.coder), &row) << row.name;
    EXPECT_GE(row.first_version, 1u);
    EXPECT_LE(row.first_version, kFormatVersion);
    EXPECT_EQ(row.stream_word_bytes, row.has_context_model() ? 1u : 4u) << row.name;
    EXPECT_EQ(row.has_network(), row.network != NetworkKind::none);
    if (row.has_network()) {
      EXPECT_EQ(row.predictor, PredictorKind::middle_out) << "the network stage corrects the MiddleOut prediction";
      EXPECT_EQ(with_network(row, NetworkKind::none).network, NetworkKind::none);
      EXPECT_EQ(&with_network(with_network(row, NetworkKind::none), row.network), &row);
    }
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(kCodecTable[j].name, row.name);
  }
  EXPECT_EQ(find_codec("mo9"), nullptr);
  EXPECT_THROW(codec_row("mo9"), std::invalid_argument);
  EXPECT_THROW(codec_at(PredictorKind::lpc, NetworkKind::gru, ResidualCoder::golomb), std::invalid_argument);
  EXPECT_EQ(codec_row(kCodecCm3).network, NetworkKind::gru);
  EXPECT_EQ(codec_row(kCodecMo2).family, CodecFamily::mo);
}

TEST(Zigzag, FoldsSmallMagnitudesToSmallCodes) {
  EXPECT_EQ(zigzag_encode(0), 0u);
  EXPECT_EQ(zigzag_encode(-1), 1u);
  EXPECT_EQ(zigzag_encode(1), 2u);
  EXPECT_EQ(zigzag_encode(-2), 3u);
  EXPECT_EQ(zigzag_encode(std::numeric_limits<std::int32_t>::max()), 0xFFFFFFFEu);
  EXPECT_EQ(zigzag_encode(std::numeric_limits<std::int32_t>::min()), 0xFFFFFFFFu);
}

TEST(Zigzag, RoundTripsEdgeValues) {
  for (std::int64_t v : {0ll, 1ll, -1ll, 65535ll, -65535ll, 2147483647ll, -2147483648ll, 12345ll, -777ll}) {
    const auto x = static_cast<std::int32_t>(v);
    EXPECT_EQ(zigzag_decode(zigzag_encode(x)), x);
  }
}

TEST(BitStream, WritesLsbFirstAndPadsToWords) {
  std::vector<std::uint32_t> words(4, 0xdeadbeef);
  BitWriter w(words.data());
  w.write(0b101, 3);
  w.write(0xff, 8);
  EXPECT_EQ(w.bits_written(), 11u);
  EXPECT_EQ(w.finish(), 1u);
  EXPECT_EQ(words[0], 0b11111111101u);
}

TEST(BitStream, RandomFieldsRoundTrip) {
  std::mt19937 rng(7);
  std::vector<std::pair<std::uint32_t, int>> fields;
  std::vector<std::uint32_t> words(4096);
  BitWriter w(words.data());
  for (int i = 0; i < 3000; ++i) {
    const int bits = static_cast<int>(rng() % 33);
    const std::uint32_t value = bits == 0 ? 0 : static_cast<std::uint32_t>(rng()) & static_cast<std::uint32_t>(low_bit_mask64(bits));
    fields.emplace_back(value, bits);
    w.write(value, bits);
  }
  const auto n = w.finish();
  BitReader r(reinterpret_cast<const std::uint8_t*>(words.data()), n * 4ull);
  for (const auto& [value, bits] : fields) ASSERT_EQ(r.read(bits), value);
  EXPECT_FALSE(r.overran());
}

TEST(BitStream, ReaderSeesZerosPastTheEndAndReportsOverrun) {
  const std::uint8_t data[3] = {0xff, 0xff, 0xff};
  BitReader r(data, 3);
  EXPECT_EQ(r.read(24), 0xffffffu);
  EXPECT_FALSE(r.overran());
  EXPECT_EQ(r.read(8), 0u);
  EXPECT_TRUE(r.overran());
}

TEST(Rice, CodewordLengthMatchesWhatIsWritten) {
  std::vector<std::uint32_t> words(64);
  for (int k = 0; k <= kMaxRiceParameter; ++k) {
    for (std::uint32_t u : {0u, 1u, 2u, 3u, 100u, 1000u, 65535u, 131071u, 0x7fffffffu, 0xffffffffu}) {
      BitWriter w(words.data());
      rice_encode(w, u, k);
      ASSERT_EQ(w.bits_written(), static_cast<std::uint64_t>(rice_codeword_bits(u, k))) << "u=" << u << " k=" << k;
      ASSERT_LE(rice_codeword_bits(u, k), kMaxRiceCodewordBits);
    }
  }
}

TEST(Rice, EncodeDecodeRoundTripIncludingEscapes) {
  std::mt19937 rng(11);
  for (int k = 0; k <= kMaxRiceParameter; ++k) {
    std::vector<std::uint32_t> values = {0, 1, (23u << k), (24u << k) - 1, (24u << k), 0xffffffffu};
    for (int i = 0; i < 200; ++i) values.push_back(static_cast<std::uint32_t>(rng()) >> (rng() % 32));
    std::vector<std::uint32_t> words(values.size() * 2 + 2);
    BitWriter w(words.data());
    for (auto u : values) rice_encode(w, u, k);
    const auto n = w.finish();
    BitReader r(reinterpret_cast<const std::uint8_t*>(words.data()), n * 4ull);
    for (auto u : values) ASSERT_EQ(rice_decode(r, k), u) << "k=" << k;
    EXPECT_FALSE(r.overran());
  }
}

TEST(Rice, ParameterChoiceIsOptimalWithoutEscapes) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 500; ++trial) {
    const int count = 1 + static_cast<int>(rng() % 300);
    const double scale = std::ldexp(1.0, static_cast<int>(rng() % 14));
    std::geometric_distribution<std::uint32_t> geo(1.0 / (1.0 + scale));
    std::vector<std::uint32_t> folded(count);
    for (auto& u : folded) u = geo(rng);
    const int chosen = rice_parameter_for_partition(folded.data(), count);
    const auto chosen_bits = rice_partition_bits(folded.data(), count, chosen);
    for (int k = 0; k <= kMaxRiceParameter; ++k) {
      // Escapes make the cost non-convex; only compare where no codeword escapes.
      bool escapes = false;
      for (auto u : folded) escapes |= (u >> k) >= static_cast<std::uint32_t>(kRiceEscapeQuotient);
      if (!escapes) ASSERT_LE(chosen_bits, rice_partition_bits(folded.data(), count, k)) << "trial " << trial << " k " << k;
    }
  }
}

TEST(ValueMap, N1MapRoundTripsAllTenBitCodes) {
  const ValueMap n1{ValueMapKind::n1_10bit};
  for (std::int32_t u = 0; u < 1024; ++u) {
    const std::int16_t v = code_to_value(n1, u);
    EXPECT_EQ(value_to_code(n1, v), u) << "u=" << u;
    EXPECT_TRUE(value_map_is_exact_for(n1, v));
  }
  EXPECT_EQ(code_to_value(n1, 0), -32768);
  EXPECT_EQ(code_to_value(n1, 1023), 32767);
  EXPECT_FALSE(value_map_is_exact_for(n1, 0));  // 0 lies between two codes
}

TEST(ValueMap, AffineIsExactOnlyOnItsGrid) {
  const ValueMap m{ValueMapKind::affine, 12, 5};
  EXPECT_TRUE(value_map_is_exact_for(m, 5));
  EXPECT_TRUE(value_map_is_exact_for(m, -7));
  EXPECT_TRUE(value_map_is_exact_for(m, 5 + 12 * 100));
  EXPECT_FALSE(value_map_is_exact_for(m, 6));
  EXPECT_FALSE(value_map_is_exact_for(m, -8));
  EXPECT_EQ(value_to_code(m, -7), -1);
}

TEST(ValueMap, CorruptCodesNeverCrash) {
  for (auto kind : {ValueMapKind::identity, ValueMapKind::affine, ValueMapKind::n1_10bit}) {
    const ValueMap m{kind, 65535, 65534};
    for (std::int32_t code : {std::numeric_limits<std::int32_t>::min(), -1, 1 << 30, std::numeric_limits<std::int32_t>::max()})
      (void)code_to_value(m, code);
  }
}

namespace {

std::vector<std::int32_t> round_trip_stream(const std::vector<std::int32_t>& codes, std::uint32_t partition_size,
                                            std::vector<std::uint32_t>* stream_out = nullptr) {
  const auto n = static_cast<std::uint32_t>(codes.size());
  std::vector<std::uint32_t> words(max_rice1_stream_words(n, partition_size));
  std::vector<std::uint32_t> scratch(n);
  words.resize(encode_rice1_stream(codes.data(), n, partition_size, scratch.data(), words.data()));
  std::vector<std::int32_t> decoded(n, 12345);
  const auto status = decode_rice1_stream(reinterpret_cast<const std::uint8_t*>(words.data()), words.size() * 4ull, n,
                                            partition_size, decoded.data());
  EXPECT_EQ(status, StreamStatus::ok);
  if (stream_out) *stream_out = words;
  return decoded;
}

}  // namespace

TEST(ChannelStream, RoundTripsAwkwardSizes) {
  std::mt19937 rng(5);
  for (std::uint32_t partition : {1u, 7u, 32u, 256u}) {
    for (std::uint32_t n : {1u, 2u, 3u, partition - 1 + 1, partition, partition + 1, partition + 2, 2 * partition + 1, 1000u, 1001u}) {
      std::vector<std::int32_t> codes(n);
      std::int32_t level = 512;
      for (auto& c : codes) c = level += static_cast<std::int32_t>(rng() % 21) - 10;
      ASSERT_EQ(round_trip_stream(codes, partition), codes) << "n=" << n << " partition=" << partition;
    }
  }
}

TEST(ChannelStream, RoundTripsRailsAndJumps) {
  // Full-scale jumps between the int16 rails force escapes.
  std::vector<std::int32_t> codes = {-32768, 32767, -32768, -32768, 32767, 0, 1, -1, 32767, 32767};
  for (int i = 0; i < 600; ++i) codes.push_back(i % 2 ? 32767 : -32768);
  EXPECT_EQ(round_trip_stream(codes, 256), codes);
  std::vector<std::int32_t> constant(5000, 7);
  EXPECT_EQ(round_trip_stream(constant, 256), constant);
}

TEST(ChannelStream, WorstCaseBoundHolds) {
  std::vector<std::int32_t> codes;
  for (int i = 0; i < 1000; ++i) codes.push_back(i % 2 ? 65535 : -65536);
  std::vector<std::uint32_t> stream;
  round_trip_stream(codes, 1, &stream);
  EXPECT_LE(stream.size(), max_rice1_stream_words(1000, 1));
}

TEST(ChannelStream, RejectsCorruptStreams) {
  std::vector<std::int32_t> codes(2000);
  for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<std::int32_t>((i * 37) % 101);
  std::vector<std::uint32_t> stream;
  round_trip_stream(codes, 256, &stream);
  std::vector<std::int32_t> out(codes.size());
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(stream.data());

  // Truncated: the codewords run out.
  EXPECT_NE(decode_rice1_stream(bytes, stream.size() * 4ull - 8, 2000, 256, out.data()), StreamStatus::ok);
  // Extra words after the codewords.
  auto longer = stream;
  longer.push_back(0);
  EXPECT_EQ(decode_rice1_stream(reinterpret_cast<const std::uint8_t*>(longer.data()), longer.size() * 4ull, 2000, 256, out.data()),
            StreamStatus::length_mismatch);
  // First partition's k field set to 31 (> kMaxRiceParameter).
  auto bad_k = stream;
  bad_k[1] |= 0x1f;  // the k field is bits 32..36
  EXPECT_EQ(decode_rice1_stream(reinterpret_cast<const std::uint8_t*>(bad_k.data()), bad_k.size() * 4ull, 2000, 256, out.data()),
            StreamStatus::invalid_rice_parameter);
}
