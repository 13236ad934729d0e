// One channel's samples within one chunk, coded by codec rice1 (SPEC.md §6.4):
//
//   warm-up     32 bits   the first code of the chunk (two's complement)
//   partitions  for the n-1 remaining samples, in runs of `partition_size` (the last may be
//               shorter): the partition's Rice parameter k, then one Rice codeword per sample
//               of the zigzag-folded first difference code[t] - code[t-1]. The first
//               partition's k is 5 bits; every later k is zigzag(k - previous k) in unary
//               (that many zero bits, then a one), since k rarely changes between partitions
//   padding     zero bits up to a multiple of 32 bits
//
// Every partition's size in bits is known once its and its predecessor's k are chosen, so a
// GPU can place all partitions of all channels with one prefix sum and pack them in parallel.
#pragma once

#include "spikey/format/codecs/common/bitstream.hpp"
#include "spikey/format/codecs/common/partitions.hpp"
#include "spikey/format/codecs/common/rice.hpp"
#include "spikey/format/codecs/common/zigzag.hpp"
#include "spikey/format/hd.hpp"

namespace spikey::format {

// Longest k-delta code: zigzag(+-24) = 48 zeros and a one.
inline constexpr int kMaxParameterDeltaBits = 2 * kMaxRiceParameter + 1;

// Bits of the k field of partition `index` (0-based) given its k and the previous partition's.
SPIKEY_HD int rice_parameter_field_bits(std::uint32_t index, int k, int previous_k) {
  return index == 0 ? kRiceParameterBits : static_cast<int>(zigzag_encode(k - previous_k)) + 1;
}

SPIKEY_HD void write_rice_parameter(BitWriter& writer, std::uint32_t index, int k, int previous_k) {
  if (index == 0) {
    writer.write(static_cast<std::uint32_t>(k), kRiceParameterBits);
    return;
  }
  writer.write_zeros(static_cast<int>(zigzag_encode(k - previous_k)));
  writer.write(1, 1);
}

// Returns the partition's k, or -1 when the field is invalid (k outside 0..kMaxRiceParameter).
SPIKEY_HD int read_rice_parameter(BitReader& reader, std::uint32_t index, int previous_k) {
  int k;
  if (index == 0) {
    k = static_cast<int>(reader.read(kRiceParameterBits));
  } else {
    const int zeros = count_trailing_zeros64(reader.peek());
    if (zeros >= kMaxParameterDeltaBits) return -1;
    reader.skip(zeros + 1);
    k = previous_k + zigzag_decode(static_cast<std::uint32_t>(zeros));
  }
  return (k < 0 || k > kMaxRiceParameter) ? -1 : k;
}

// Prediction stage of rice1: the previous code. The residual of code t (t >= 1) is
// code[t] - code[t-1]; codes lie within 17 bits (value_map.hpp), so it cannot overflow.
SPIKEY_HD std::uint32_t first_difference_folded(std::int32_t code, std::int32_t previous_code) {
  return zigzag_encode(code - previous_code);
}

SPIKEY_HD std::int32_t first_difference_reconstruct(std::uint32_t folded, std::int32_t previous_code) {
  // Wrapping add: corrupt input must not be undefined behaviour.
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(previous_code) +
                                   static_cast<std::uint32_t>(zigzag_decode(folded)));
}

// Upper bound on a stream's length in 32-bit words (every codeword escaped).
SPIKEY_HD std::uint64_t max_rice1_stream_words(std::uint32_t sample_count, std::uint32_t partition_size) {
  if (sample_count == 0) return 0;
  const std::uint32_t residuals = sample_count - 1;
  const std::uint64_t bits = kWarmupBits + std::uint64_t{partition_count(residuals, partition_size)} * kMaxParameterDeltaBits +
                             std::uint64_t{residuals} * kMaxRiceCodewordBits;
  return (bits + 31) / 32 + BitWriter::kSlackWords;
}

// Encodes `sample_count` codes (>= 1). `folded_scratch` holds sample_count - 1 values;
// `out_words` holds max_rice1_stream_words(). Returns the stream length in words.
SPIKEY_HD std::uint32_t encode_rice1_stream(const std::int32_t* codes, std::uint32_t sample_count,
                                              std::uint32_t partition_size, std::uint32_t* folded_scratch,
                                              std::uint32_t* out_words) {
  BitWriter writer(out_words);
  writer.write(static_cast<std::uint32_t>(codes[0]), kWarmupBits);
  const std::uint32_t residuals = sample_count - 1;
  for (std::uint32_t t = 1; t < sample_count; ++t) folded_scratch[t - 1] = first_difference_folded(codes[t], codes[t - 1]);
  int previous_k = 0;
  std::uint32_t index = 0;
  for (std::uint32_t start = 0; start < residuals; start += partition_size, ++index) {
    const std::uint32_t remaining = residuals - start;
    const int count = static_cast<int>(remaining < partition_size ? remaining : partition_size);
    const int k = rice_parameter_for_partition(folded_scratch + start, count);
    write_rice_parameter(writer, index, k, previous_k);
    previous_k = k;
    for (int i = 0; i < count; ++i) rice_encode(writer, folded_scratch[start + i], k);
  }
  return writer.finish();
}

enum class StreamStatus : std::uint8_t {
  ok = 0,
  invalid_rice_parameter,  // a partition's k field is malformed or outside 0..kMaxRiceParameter
  overrun,                 // the codewords run past the end of the stream
  length_mismatch,         // the stream is longer than its padded codewords, or padding is not zero
};

// Decodes `sample_count` codes (>= 1) from a stream of `size_bytes` bytes into `codes`.
SPIKEY_HD StreamStatus decode_rice1_stream(const std::uint8_t* data, std::uint64_t size_bytes,
                                             std::uint32_t sample_count, std::uint32_t partition_size,
                                             std::int32_t* codes) {
  BitReader reader(data, size_bytes);
  std::int32_t previous = static_cast<std::int32_t>(reader.read(kWarmupBits));
  codes[0] = previous;
  const std::uint32_t residuals = sample_count - 1;
  std::uint32_t t = 1;
  int k = 0;
  std::uint32_t index = 0;
  for (std::uint32_t start = 0; start < residuals; start += partition_size, ++index) {
    const std::uint32_t remaining = residuals - start;
    const std::uint32_t count = remaining < partition_size ? remaining : partition_size;
    k = read_rice_parameter(reader, index, k);
    if (k < 0) return StreamStatus::invalid_rice_parameter;
    for (std::uint32_t i = 0; i < count; ++i, ++t) {
      previous = first_difference_reconstruct(rice_decode(reader, k), previous);
      codes[t] = previous;
    }
    if (reader.overran()) return StreamStatus::overrun;
  }
  if (reader.overran()) return StreamStatus::overrun;
  const std::uint64_t used_bits = reader.position_bits();
  const std::uint64_t padded_bytes = (used_bits + 31) / 32 * 4;
  if (padded_bytes != size_bytes) return StreamStatus::length_mismatch;
  const int padding_bits = static_cast<int>(padded_bytes * 8 - used_bits);
  if (padding_bits > 0 && reader.read(padding_bits) != 0) return StreamStatus::length_mismatch;
  return StreamStatus::ok;
}

}  // namespace spikey::format
