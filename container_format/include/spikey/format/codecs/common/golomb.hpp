// Half-octave Golomb coding of folded residuals (SPEC.md §6.5), used by codec lpc1.
//
// The parameter is an index j = 0..kMaxGolombIndex into the divisors
//   m = 1, 2, 3, 4, 6, 8, 12, 16, 24, ...   (2^k, and 3 * 2^(k-1) between them)
// i.e. k = (j + 1) / 2 and m = 3 * 2^(k-1) when j is even and non-zero, else 2^k.
// Rice codes (m = 2^k) only reach every other of these sizes; the in-between divisors
// matter here because the residuals are near-Gaussian with a small scale (measured:
// +0.28% ratio on the Neuralink set over Rice with the same partitions).
//
// Codeword of u with q = u / m, r = u - q * m:
//   q <  kRiceEscapeQuotient: q zero bits, one 1 bit, then the remainder:
//     m = 2^k:         r in k bits
//     m = 3 * 2^(k-1): r < 2^(k-1): a 0 bit, then r in k-1 bits
//                      otherwise:   a 1 bit, then r - 2^(k-1) in k bits
//   q >= kRiceEscapeQuotient: kRiceEscapeQuotient zero bits, then u in 32 bits.
// The longest normal codeword is 23 + 1 + 1 + 24 = 49 bits; an escape is 56 bits.
#pragma once

#include "spikey/format/codecs/common/bitstream.hpp"
#include "spikey/format/hd.hpp"
#include "spikey/format/codecs/common/parameter_search.hpp"
#include "spikey/format/codecs/common/rice.hpp"
#include "spikey/format/codecs/common/zigzag.hpp"

namespace spikey::format {

inline constexpr int kMaxGolombIndex = 2 * kMaxRiceParameter;  // 48: m = 3 * 2^23
inline constexpr int kGolombIndexBits = 6;                      // first partition's index field
inline constexpr int kGolombDeltaEscape = 15;                   // delta codes from here on are escaped

struct GolombParameter {
  int k;      // m = 2^k, or 3 * 2^(k-1) when half
  bool half;
};

SPIKEY_HD GolombParameter golomb_parameter(int index) {
  const int k = (index + 1) >> 1;
  return {k, index > 0 && (index & 1) == 0};
}

SPIKEY_HD std::uint32_t golomb_divisor(int index) {
  const GolombParameter g = golomb_parameter(index);
  return g.half ? (3u << (g.k - 1)) : (1u << g.k);
}

SPIKEY_HD std::uint32_t divide_by_3(std::uint32_t x) {
  return static_cast<std::uint32_t>((std::uint64_t{x} * 0xAAAAAAABull) >> 33);  // exact for every 32-bit x
}

SPIKEY_HD std::uint32_t golomb_quotient(std::uint32_t folded, GolombParameter g) {
  return g.half ? divide_by_3(folded >> (g.k - 1)) : folded >> g.k;
}

SPIKEY_HD int golomb_codeword_bits(std::uint32_t folded, int index) {
  const GolombParameter g = golomb_parameter(index);
  const std::uint32_t q = golomb_quotient(folded, g);
  if (q >= static_cast<std::uint32_t>(kRiceEscapeQuotient)) return kMaxRiceCodewordBits;
  if (!g.half) return static_cast<int>(q) + 1 + g.k;
  const std::uint32_t r = folded - q * (3u << (g.k - 1));
  return static_cast<int>(q) + 1 + (r < (1u << (g.k - 1)) ? g.k : g.k + 1);
}

// A codeword as one LSB-first bit field: `*value` holds its `*bits` bits (at most 56).
// The sequential writer and the GPU's parallel packer both write exactly this.
SPIKEY_HD void golomb_codeword(std::uint32_t folded, int index, std::uint64_t* value, int* bits) {
  const GolombParameter g = golomb_parameter(index);
  const std::uint32_t q = golomb_quotient(folded, g);
  if (q >= static_cast<std::uint32_t>(kRiceEscapeQuotient)) {
    *value = std::uint64_t{folded} << kRiceEscapeQuotient;  // 24 zero bits, then u in 32 bits
    *bits = kMaxRiceCodewordBits;
    return;
  }
  // The remainder field: k bits of r for m = 2^k; for m = 3 * 2^(k-1) a flag bit, then r in
  // k-1 bits (flag 0) or r - 2^(k-1) in k bits (flag 1).
  std::uint64_t remainder;
  int remainder_bits;
  if (!g.half) {
    remainder = folded & static_cast<std::uint32_t>(low_bit_mask64(g.k));
    remainder_bits = g.k;
  } else {
    const std::uint32_t r = folded - q * (3u << (g.k - 1));
    const std::uint32_t short_count = 1u << (g.k - 1);
    remainder = r < short_count ? std::uint64_t{r} << 1 : (std::uint64_t{r - short_count} << 1) | 1u;
    remainder_bits = r < short_count ? g.k : g.k + 1;
  }
  const int unary_bits = static_cast<int>(q) + 1;  // q zero bits, then a one
  *value = (remainder << unary_bits) | (std::uint64_t{1} << q);
  *bits = unary_bits + remainder_bits;
}

SPIKEY_HD void golomb_encode(BitWriter& writer, std::uint32_t folded, int index) {
  std::uint64_t value;
  int bits;
  golomb_codeword(folded, index, &value, &bits);
  writer.write_field(value, bits);
}

// The codeword at the start of `bits` (the next >= kMaxRiceCodewordBits bits of a stream,
// LSB first) for a parameter with g.half == kHalf: its value, and its length in `*length`.
template <bool kHalf>
SPIKEY_HD std::uint32_t golomb_decode_bits(std::uint64_t bits, GolombParameter g, int* length) {
  const int zeros = count_trailing_zeros64(bits);
  if (zeros >= kRiceEscapeQuotient) {
    *length = kMaxRiceCodewordBits;
    return static_cast<std::uint32_t>(bits >> kRiceEscapeQuotient);
  }
  const std::uint64_t rest = bits >> (zeros + 1);
  if constexpr (!kHalf) {
    *length = zeros + 1 + g.k;
    return (static_cast<std::uint32_t>(zeros) << g.k) | static_cast<std::uint32_t>(rest & low_bit_mask64(g.k));
  } else {
    const std::uint32_t base = static_cast<std::uint32_t>(zeros) * (3u << (g.k - 1));
    const int long_remainder = static_cast<int>(rest & 1u);  // r - 2^(k-1) in k bits, else r in k - 1 bits
    *length = zeros + 1 + g.k + long_remainder;
    return base + (static_cast<std::uint32_t>(long_remainder) << (g.k - 1)) +
           static_cast<std::uint32_t>((rest >> 1) & low_bit_mask64(g.k - 1 + long_remainder));
  }
}

SPIKEY_HD std::uint32_t golomb_decode(BitReader& reader, int index) {
  const GolombParameter g = golomb_parameter(index);
  int length;
  const std::uint64_t bits = reader.peek();
  const std::uint32_t value = g.half ? golomb_decode_bits<true>(bits, g, &length) : golomb_decode_bits<false>(bits, g, &length);
  reader.skip(length);
  return value;
}

// `count` codewords of one index into `folded`, as golomb_decode one by one, taken from a
// register while they lie in its valid bits (the chain from one codeword to the next is then a
// count of zeros and a shift, not a load): a codeword that needs bits beyond them shows a length
// above `left` (its zeros run past the valid bits, or it is longer than they are), and is read
// again from a new peek, which holds any whole codeword.
template <bool kHalf>
SPIKEY_HD void golomb_decode_run(BitReader& reader, GolombParameter g, std::uint32_t count, std::uint32_t* folded) {
  static_assert(BitReader::kMinPeekBits >= kMaxRiceCodewordBits, "a peek holds a whole codeword");
  std::uint64_t bits = 0;
  int left = 0, taken = 0;  // valid bits in `bits`; bits taken since the last peek
  for (std::uint32_t i = 0; i < count; ++i) {
    int length;
    std::uint32_t value = golomb_decode_bits<kHalf>(bits, g, &length);
    if (length > left) {
      reader.skip(taken);
      taken = 0;
      bits = reader.peek();
      left = BitReader::kMinPeekBits;
      value = golomb_decode_bits<kHalf>(bits, g, &length);
    }
    folded[i] = value;
    bits >>= length;
    left -= length;
    taken += length;
  }
  reader.skip(taken);
}

SPIKEY_HD void golomb_decode_run(BitReader& reader, int index, std::uint32_t count, std::uint32_t* folded) {
  const GolombParameter g = golomb_parameter(index);
  if (g.half) golomb_decode_run<true>(reader, g, count, folded);
  else golomb_decode_run<false>(reader, g, count, folded);
}

// Branch-free form of golomb_codeword_bits (the encoder's hot loop), with the parameter's
// constants worked out once per partition.
struct GolombCost {
  GolombParameter g;
  std::uint32_t short_count;
  std::uint32_t divisor;
  SPIKEY_HD explicit GolombCost(int index)
      : g(golomb_parameter(index)), short_count(g.half ? (1u << (g.k - 1)) : 0u), divisor(golomb_divisor(index)) {}
  SPIKEY_HD std::uint32_t bits(std::uint32_t u) const {
    const std::uint32_t q = golomb_quotient(u, g);
    const std::uint32_t long_remainder = g.half && (u - q * divisor) >= short_count ? 1u : 0u;
    const std::uint32_t normal = q + 1u + static_cast<std::uint32_t>(g.k) + long_remainder;
    return q >= static_cast<std::uint32_t>(kRiceEscapeQuotient) ? static_cast<std::uint32_t>(kMaxRiceCodewordBits) : normal;
  }
};

SPIKEY_HD std::uint64_t golomb_partition_bits(const std::uint32_t* folded, int count, int index) {
  const GolombCost cost(index);
  std::uint64_t bits = 0;
  for (int i = 0; i < count; ++i) bits += cost.bits(folded[i]);
  return bits;
}

// The bits of residuals first, first + step, ... of the partition: a GPU warp's lanes take a
// stride each, and their exact sum is golomb_partition_bits (at most 2^20 residuals of at most
// kMaxRiceCodewordBits bits: below 2^32).
SPIKEY_HD std::uint32_t golomb_partition_bits_strided(const std::uint32_t* folded, int count, int index, int first, int step) {
  const GolombCost cost(index);
  std::uint32_t bits = 0;
  for (int i = first; i < count; i += step) bits += cost.bits(folded[i]);
  return bits;
}

// Where the encoder's search for a partition's index starts: near 2 * log2(mean), from the sum
// of its `count` >= 1 residuals.
SPIKEY_HD int golomb_start_index(std::uint64_t sum, int count) {
  const std::uint64_t mean = sum / static_cast<std::uint64_t>(count);
  const int index = mean == 0 ? 0 : 2 * (bit_width32(static_cast<std::uint32_t>(mean > 0xffffffffu ? 0xffffffffu : mean)) - 1);
  return index > kMaxGolombIndex ? kMaxGolombIndex : index;
}

// The encoder's choice of index for one partition (count >= 1): start at golomb_start_index
// and walk down, else up, while the exact partition size strictly decreases. Deterministic,
// so CPU and GPU encoders choose the same.
SPIKEY_HD int golomb_index_for_partition(const std::uint32_t* folded, int count) {
  std::uint64_t sum = 0;
  for (int i = 0; i < count; ++i) sum += folded[i];
  return walk_to_cheapest(golomb_start_index(sum, count), kMaxGolombIndex,
                          [&](int candidate) { return golomb_partition_bits(folded, count, candidate); });
}

// Partition parameter fields: partition 0 holds the index in 6 bits; partition j > 0 holds
// z = zigzag(index - previous index) as z zero bits and a one when z < 15, otherwise 15
// zero bits and the index in 6 bits.
SPIKEY_HD int golomb_index_field_bits(std::uint32_t partition, int index, int previous_index) {
  if (partition == 0) return kGolombIndexBits;
  const std::uint32_t z = zigzag_encode(index - previous_index);
  return z < static_cast<std::uint32_t>(kGolombDeltaEscape) ? static_cast<int>(z) + 1 : kGolombDeltaEscape + kGolombIndexBits;
}

// A partition's index field as one LSB-first bit field of golomb_index_field_bits() bits.
SPIKEY_HD std::uint32_t golomb_index_field(std::uint32_t partition, int index, int previous_index) {
  if (partition == 0) return static_cast<std::uint32_t>(index);
  const std::uint32_t z = zigzag_encode(index - previous_index);
  return z < static_cast<std::uint32_t>(kGolombDeltaEscape) ? std::uint32_t{1} << z
                                                             : static_cast<std::uint32_t>(index) << kGolombDeltaEscape;
}

SPIKEY_HD void write_golomb_index(BitWriter& writer, std::uint32_t partition, int index, int previous_index) {
  writer.write(golomb_index_field(partition, index, previous_index), golomb_index_field_bits(partition, index, previous_index));
}

// Returns the index, or -1 when it is outside 0..kMaxGolombIndex (a corrupt stream).
SPIKEY_HD int read_golomb_index(BitReader& reader, std::uint32_t partition, int previous_index) {
  int index;
  if (partition == 0) {
    index = static_cast<int>(reader.read(kGolombIndexBits));
  } else {
    const int zeros = count_trailing_zeros64(reader.peek());
    if (zeros >= kGolombDeltaEscape) {
      reader.skip(kGolombDeltaEscape);
      index = static_cast<int>(reader.read(kGolombIndexBits));
    } else {
      reader.skip(zeros + 1);
      index = previous_index + zigzag_decode(static_cast<std::uint32_t>(zeros));
    }
  }
  return (index < 0 || index > kMaxGolombIndex) ? -1 : index;
}

}  // namespace spikey::format
