// The Golomb stream of codecs lpc1 and mo1-mo3 (SPEC.md §6.5): one channel's residuals in one
// chunk after its prediction (lpc_predictor.hpp, mo_predictor.hpp):
//
//   warm-up     32 bits   the first code u[0] (two's complement)
//   adapt flag  1 bit     whether the predictor's LMS adapted its weights in this chunk
//   partitions  the n-1 folded residuals in runs of `partition_size`: the partition's Golomb
//               index (golomb.hpp), then one codeword per residual
//   padding     zero bits up to a multiple of 32 bits
//
// Every partition's size is known once its index is chosen, so a GPU lays out all partitions
// of a batch with one prefix sum and packs them in parallel (codecs/batch/golomb_batch.hpp).
#pragma once

#include "spikey/format/codecs/common/bitstream.hpp"
#include "spikey/format/codecs/common/golomb.hpp"
#include "spikey/format/codecs/common/partitions.hpp"
#include "spikey/format/hd.hpp"

namespace spikey::format {

inline constexpr int kGolombWarmupBits = 32;  // u[0], then the 1-bit adapt flag

// Upper bound on a Golomb stream in 32-bit words.
SPIKEY_HD std::uint64_t max_golomb_stream_words(std::uint32_t n, std::uint32_t partition_size) {
  if (n == 0) return 0;
  const std::uint32_t residuals = n - 1;
  const std::uint64_t partitions = (residuals + partition_size - 1) / partition_size;
  const std::uint64_t bits = kGolombWarmupBits + 1 + partitions * (kGolombDeltaEscape + kGolombIndexBits) + std::uint64_t{residuals} * kMaxRiceCodewordBits;
  return (bits + 31) / 32 + BitWriter::kSlackWords;
}

// The encoder's Golomb index for every partition (into `indices`, one per partition) and
// the resulting size in bits of the coded residuals (without warm-up, flag and padding),
// which is what the encoder compares to choose the adapt flag.
SPIKEY_HD std::uint64_t golomb_partition_indices(const std::uint32_t* folded, std::uint32_t residuals, std::uint32_t partition_size,
                                              std::uint8_t* indices) {
  std::uint64_t bits = 0;
  int previous = 0;
  std::uint32_t partition = 0;
  for (std::uint32_t start = 0; start < residuals; start += partition_size, ++partition) {
    const std::uint32_t remaining = residuals - start;
    const int count = static_cast<int>(remaining < partition_size ? remaining : partition_size);
    const int index = golomb_index_for_partition(folded + start, count);
    bits += static_cast<std::uint64_t>(golomb_index_field_bits(partition, index, previous)) +
            golomb_partition_bits(folded + start, count, index);
    indices[partition] = static_cast<std::uint8_t>(index);
    previous = index;
  }
  return bits;
}

// Entropy stage of the encoder: warm-up code, adapt flag, then partitions of Golomb-coded
// folded residuals with the indices from golomb_partition_indices.
SPIKEY_HD std::uint32_t encode_golomb_stream(std::int32_t first_code, bool adapt, const std::uint32_t* folded, std::uint32_t residuals,
                                          std::uint32_t partition_size, const std::uint8_t* indices, std::uint32_t* out_words) {
  BitWriter writer(out_words);
  writer.write(static_cast<std::uint32_t>(first_code), kGolombWarmupBits);
  writer.write(adapt ? 1u : 0u, 1);
  int previous = 0;
  std::uint32_t partition = 0;
  for (std::uint32_t start = 0; start < residuals; start += partition_size, ++partition) {
    const std::uint32_t remaining = residuals - start;
    const int count = static_cast<int>(remaining < partition_size ? remaining : partition_size);
    const int index = indices[partition];
    write_golomb_index(writer, partition, index, previous);
    previous = index;
    // The codewords of 32 residuals at a time, then their bits: the first loop has no chain
    // from one residual to the next, the second only the writer's.
    constexpr int kAhead = 32;
    for (int at = 0; at < count; at += kAhead) {
      const int ahead = count - at < kAhead ? count - at : kAhead;
      std::uint64_t value[kAhead];
      int bits[kAhead];
      for (int i = 0; i < ahead; ++i) golomb_codeword(folded[start + at + i], index, &value[i], &bits[i]);
      for (int i = 0; i < ahead; ++i) writer.write_field(value[i], bits[i]);
    }
  }
  return writer.finish();
}

// Entropy stage of the decoder: the warm-up code, the adapt flag and n-1 folded residuals.
// Returns false on a malformed stream (bad index, overrun, wrong length or non-zero padding).
SPIKEY_HD bool decode_golomb_stream_residuals(const std::uint8_t* data, std::uint64_t size_bytes, std::uint32_t n,
                                           std::uint32_t partition_size, std::int32_t* first_code, bool* adapt,
                                           std::uint32_t* folded) {
  BitReader reader(data, size_bytes);
  *first_code = static_cast<std::int32_t>(reader.read(kGolombWarmupBits));
  *adapt = reader.read(1) != 0;
  const std::uint32_t residuals = n - 1;
  int index = 0;
  std::uint32_t partition = 0;
  for (std::uint32_t start = 0; start < residuals; start += partition_size, ++partition) {
    const std::uint32_t remaining = residuals - start;
    const std::uint32_t count = remaining < partition_size ? remaining : partition_size;
    index = read_golomb_index(reader, partition, index);
    if (index < 0) return false;
    golomb_decode_run(reader, index, count, folded + start);
    if (reader.overran()) return false;
  }
  if (reader.overran()) return false;
  const std::uint64_t used = reader.position_bits();
  const std::uint64_t padded_bytes = (used + 31) / 32 * 4;
  if (padded_bytes != size_bytes) return false;
  const int padding = static_cast<int>(padded_bytes * 8 - used);
  return padding == 0 || reader.read(padding) == 0;
}

}  // namespace spikey::format
