// Rice coding of folded residuals with an escape for outliers (SPEC.md §6.4).
//
// Codeword for value u with parameter k (0 <= k <= kMaxRiceParameter):
//   q = u >> k
//   q <  kRiceEscapeQuotient: q zero bits, one 1 bit, then the low k bits of u
//   q >= kRiceEscapeQuotient: kRiceEscapeQuotient zero bits, then u in kRiceEscapeBits bits
// The longest codeword is 24 + 32 = 56 bits, so one 57-bit BitReader::peek() holds any codeword.
#pragma once

#include "spikey/format/codecs/common/bitstream.hpp"
#include "spikey/format/hd.hpp"
#include "spikey/format/codecs/common/parameter_search.hpp"

namespace spikey::format {

inline constexpr int kRiceParameterBits = 5;    // width of a partition's k field
inline constexpr int kMaxRiceParameter = 24;    // k values 25..31 are invalid (corrupt stream)
inline constexpr int kRiceEscapeQuotient = 24;  // quotients from here on are escaped
inline constexpr int kRiceEscapeBits = 32;      // width of an escaped value
inline constexpr int kMaxRiceCodewordBits = kRiceEscapeQuotient + kRiceEscapeBits;

SPIKEY_HD int rice_codeword_bits(std::uint32_t folded, int k) {
  const std::uint32_t quotient = folded >> k;
  return quotient < static_cast<std::uint32_t>(kRiceEscapeQuotient) ? static_cast<int>(quotient) + 1 + k
                                                                     : kMaxRiceCodewordBits;
}

SPIKEY_HD void rice_encode(BitWriter& writer, std::uint32_t folded, int k) {
  const std::uint32_t quotient = folded >> k;
  if (quotient < static_cast<std::uint32_t>(kRiceEscapeQuotient)) {
    // q zeros then a one, as one value: the one sits at bit position q.
    writer.write(std::uint32_t{1} << quotient, static_cast<int>(quotient) + 1);
    writer.write(folded, k);
  } else {
    writer.write(0, kRiceEscapeQuotient);
    writer.write(folded, kRiceEscapeBits);
  }
}

SPIKEY_HD std::uint32_t rice_decode(BitReader& reader, int k) {
  const std::uint64_t bits = reader.peek();
  const int zeros = count_trailing_zeros64(bits);
  if (zeros < kRiceEscapeQuotient) {
    const auto remainder = static_cast<std::uint32_t>((bits >> (zeros + 1)) & low_bit_mask64(k));
    reader.skip(zeros + 1 + k);
    return (static_cast<std::uint32_t>(zeros) << k) | remainder;
  }
  reader.skip(kMaxRiceCodewordBits);
  return static_cast<std::uint32_t>(bits >> kRiceEscapeQuotient);
}

// Total codeword bits of `count` folded values with parameter k (partition header excluded).
SPIKEY_HD std::uint64_t rice_partition_bits(const std::uint32_t* folded, int count, int k) {
  std::uint64_t bits = 0;
  for (int i = 0; i < count; ++i) bits += static_cast<std::uint64_t>(rice_codeword_bits(folded[i], k));
  return bits;
}

// The encoder's choice of k for one partition (count >= 1). Deterministic, so CPU and GPU
// encoders pick the same k: start from log2 of the mean, then walk down, else up, while the
// exact partition size strictly decreases. Without escapes the size is convex in k, so the
// walk ends at the optimum.
SPIKEY_HD int rice_parameter_for_partition(const std::uint32_t* folded, int count) {
  std::uint64_t sum = 0;
  for (int i = 0; i < count; ++i) sum += folded[i];
  const std::uint64_t mean = sum / static_cast<std::uint64_t>(count);
  int k = mean == 0 ? 0 : bit_width32(static_cast<std::uint32_t>(mean > 0xffffffffu ? 0xffffffffu : mean)) - 1;
  if (k > kMaxRiceParameter) k = kMaxRiceParameter;
  return walk_to_cheapest(k, kMaxRiceParameter, [&](int candidate) { return rice_partition_bits(folded, count, candidate); });
}

}  // namespace spikey::format
