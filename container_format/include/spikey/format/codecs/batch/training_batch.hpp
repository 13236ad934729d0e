// The trainers' heavy passes for many streams at once, as functions of one element each, so that
// a GPU runs them over all its SMs and a CPU executor runs the same functions in loops:
//   - the MiddleOut trainer's least-squares sums (host/src/codecs/mo/mo_training.cpp) of many
//     (channel, training chunk) streams;
//   - the correlations of the channels' activity signatures (the topology, and lpc1's choice of a
//     source channel: host/src/codecs/training_common.cpp), a pair of channels each.
//
// Least squares. A stream's model is its channel's candidate model: every history tap, the
// wavelet features, every candidate source's window (a MoModel with the largest order, levels and
// sources the trainer considers). Its regressors at time t (1..n-1) are that model's inputs in
// mo_inputs' order (batch_mo_input: they do not depend on any weight), then the target c[t]; the
// sums are sum_t x_a[t] * x_b[t] for every pair a <= b, the upper triangle row by row. Every value
// fits int16 (|c| <= kLpcHistoryClamp, |features| <= kWaveletClamp), so the products of a block of
// kNormalBlock samples sum exactly in int32 and the blocks in int64: exact sums do not depend on
// their order, so any split of the samples over threads, blocks or atomics gives the CPU's sums.
//
// Stages (arrays batch-wide, indexed by BatchStream::sample_offset + t, as in golomb_batch.hpp):
//   1   per sample            batch_map_sample
//   2a  per sample            batch_clamped_difference
//   2a' per sample and level  batch_wavelet_level
//   N   per (stream, block of kNormalBlock samples, pair)
//                             normal_fill_value (the block's regressors into a tile), then
//                             normal_block_dot of each pair, added to the stream's sums
//   B   per (stream, block)   signature_block_sum: the activity signature's sums of clamped
//                             differences over blocks of a fixed length (exact integers)
//   C   per pair of channels  signature_dot of their unit signatures (floats, in a fixed order:
//                             every executor gives the same bits without fused multiply-adds)
//   K   per (stream, candidate scale rate), after the batch encoder's stages 1-3
//                             the context model's counts (host/src/codecs/cm/cm_training.cpp): a
//                             histogram of codes, and per rate one of |z| per scale class, from
//                             each stream's chosen residuals (count_magnitude_slot walking the
//                             scale chain); counts add up the same in any order
#pragma once

#include <cstdint>

#include "spikey/format/codecs/batch/golomb_batch.hpp"
#include "spikey/format/codecs/cm/cm_model.hpp"
#include "spikey/format/hd.hpp"

namespace spikey::format {

inline constexpr std::uint32_t kNormalBlock = 64;
// A tile row's length: one block and an int16 pair more, so that rows start 33 four-byte words
// apart and a GPU warp reading one value of many rows hits different shared-memory banks.
inline constexpr std::uint32_t kNormalTileRow = kNormalBlock + 2;
inline constexpr int kMaxNormalSize = kMaxMoTaps + 1;  // regressors and the target
static_assert(kLpcHistoryClamp <= 32767 && kWaveletClamp <= 32767, "regressors fit int16");
static_assert(std::int64_t{kWaveletClamp} * kWaveletClamp * kNormalBlock < (std::int64_t{1} << 31) &&
                  std::int64_t{kLpcHistoryClamp} * kLpcHistoryClamp * kNormalBlock < (std::int64_t{1} << 31),
              "a block's products sum exactly in int32");

// The candidate model of a training stream (its order, wavelet levels, sources and window).
SPIKEY_HD MoModel normal_model(const BatchStream& s) {
  MoModel m;
  m.order = s.order;
  m.levels = s.wavelet_levels;
  m.sources = s.source_count;
  m.half_window = s.source_half_window;
  return m;
}

// Regressors and target of a stream, and the sums it holds: (size + 1) * size / 2.
SPIKEY_HD int normal_size(const BatchStream& s) { return normal_model(s).taps() + 1; }
SPIKEY_HD constexpr std::uint32_t normal_terms(int size) { return static_cast<std::uint32_t>(size * (size + 1) / 2); }

// The pair (a, b), a <= b, of sum `term` (the upper triangle row by row).
SPIKEY_HD void normal_term_pair(int size, std::uint32_t term, int& a, int& b) {
  int row = 0;
  std::uint32_t first = 0;  // the row's first term
  while (term >= first + static_cast<std::uint32_t>(size - row)) first += static_cast<std::uint32_t>(size - row++);
  a = row;
  b = row + static_cast<int>(term - first);
}

// Regressor a (< size - 1: batch_mo_input of the candidate model; size - 1: the target c[t]) at t.
SPIKEY_HD std::int16_t normal_value(const MoModel& m, const BatchStream& s, const BatchStream* streams, std::uint32_t t, const std::int16_t* diffs,
                                    const std::int16_t* planes, std::uint64_t stride, int a) {
  if (a == m.taps()) return diffs[s.sample_offset + t];
  return static_cast<std::int16_t>(batch_mo_input(m, s, streams, t, diffs, planes, stride, a));
}

// One value of the tile of block `block`: regressor a at sample t = 1 + block * kNormalBlock + u
// goes to tile[a * kNormalTileRow + u], zero past the stream's last sample (a thread per (a, u)).
SPIKEY_HD void normal_fill_value(const BatchStream& s, const BatchStream* streams, std::uint32_t block, int a, std::uint32_t u,
                                 const std::int16_t* diffs, const std::int16_t* planes, std::uint64_t stride, std::int16_t* tile) {
  const std::uint32_t t = 1 + block * kNormalBlock + u;
  tile[static_cast<std::uint32_t>(a) * kNormalTileRow + u] = t < s.n ? normal_value(normal_model(s), s, streams, t, diffs, planes, stride, a) : std::int16_t{0};
}

SPIKEY_HD std::uint32_t normal_blocks(const BatchStream& s) { return s.n > 1 ? (s.n - 1 + kNormalBlock - 1) / kNormalBlock : 0; }

// One block's sum of x_a * x_b (exact in int32, see above).
SPIKEY_HD std::int32_t normal_block_dot(const std::int16_t* tile, int a, int b) {
  const std::int16_t* x = tile + static_cast<std::uint32_t>(a) * kNormalTileRow;
  const std::int16_t* z = tile + static_cast<std::uint32_t>(b) * kNormalTileRow;
  std::int32_t dot = 0;
  for (std::uint32_t u = 0; u < kNormalBlock; ++u) dot += std::int32_t{x[u]} * z[u];
  return dot;
}

// Stage B: the sum of the stream's clamped differences c[t] (c[0] = 0) over block `index` of
// `block` samples, t in [index * block, min(n, (index + 1) * block)); and the stream's blocks.
SPIKEY_HD std::uint64_t signature_blocks(const BatchStream& s, std::uint64_t block) { return (s.n + block - 1) / block; }
SPIKEY_HD std::int64_t signature_block_sum(const BatchStream& s, std::uint64_t block, std::uint64_t index, const std::int16_t* diffs) {
  std::int64_t sum = 0;
  const std::uint64_t end = (index + 1) * block < s.n ? (index + 1) * block : s.n;
  for (std::uint64_t t = index * block; t < end; ++t) sum += diffs[s.sample_offset + t];
  return sum;
}

// Stage C's pairs (c, s), c < s, of `channels` channels: row c after row c - 1.
SPIKEY_HD std::uint64_t signature_pair_index(std::uint64_t channels, std::uint64_t c, std::uint64_t s) {
  return c * channels - c * (c + 1) / 2 + (s - c - 1);
}

// Stage C: the dot product of two unit signatures of n values (training_common.hpp), in eight
// interleaved partial sums (so that a CPU vectorises it): every group of eight values adds to
// the partials in turn, then the values after the last whole group and the partials, in order,
// give the dot product. A GPU that stages the groups through shared memory calls the same two
// steps in the same order, so every executor gives the same bits (no fused multiply-adds).
inline constexpr std::uint64_t kSignatureGroup = 8;
SPIKEY_HD void signature_dot_group(float* partial, const float* a, const float* b) {
  for (std::uint64_t j = 0; j < kSignatureGroup; ++j) partial[j] += a[j] * b[j];
}
SPIKEY_HD float signature_dot_finish(const float* partial, const float* a, const float* b, std::uint64_t first, std::uint64_t n) {
  float dot = 0;
  for (std::uint64_t i = first; i < n; ++i) dot += a[i] * b[i];
  for (std::uint64_t j = 0; j < kSignatureGroup; ++j) dot += partial[j];
  return dot;
}
SPIKEY_HD float signature_dot(const float* a, const float* b, std::uint64_t n) {
  float partial[kSignatureGroup] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::uint64_t i = 0;
  for (; i + kSignatureGroup <= n; i += kSignatureGroup) signature_dot_group(partial, a + i, b + i);
  return signature_dot_finish(partial, a, b, i, n);
}

// Stage K. The candidate scale rates (the cheapest fit wins), |z| bins per class (larger |z| share
// the last bin), and the codes' bins (codes lie in -32768..65535).
inline constexpr std::size_t kCountRates = 4;
SPIKEY_HD int count_scale_rate(std::size_t rate_index) { return 4 + static_cast<int>(rate_index); }  // 4, 5, 6, 7
inline constexpr std::size_t kCountMagnitudeBins = 16384;
inline constexpr std::int32_t kCountCodeOffset = 32768;
inline constexpr std::size_t kCountCodeBins = 98304;
inline constexpr std::size_t kCountMagnitudeSlots = kCountRates * kCmClasses * kCountMagnitudeBins;

// The magnitude slot of residual z at scale `scale` under rate `rate_index`; the chain then moves
// to cm_next_scale(scale, z, count_scale_rate(rate_index)), starting at kCmScaleStart for z[1].
SPIKEY_HD std::size_t count_magnitude_slot(std::size_t rate_index, std::int32_t scale, std::int32_t z) {
  const std::uint64_t magnitude = z < 0 ? 0u - static_cast<std::uint64_t>(static_cast<std::int64_t>(z)) : static_cast<std::uint64_t>(z);
  const std::size_t bin = magnitude < kCountMagnitudeBins - 1 ? static_cast<std::size_t>(magnitude) : kCountMagnitudeBins - 1;
  return (rate_index * kCmClasses + static_cast<std::size_t>(cm_class_of(scale))) * kCountMagnitudeBins + bin;
}

// The code bin of a code, false outside the bins.
SPIKEY_HD bool count_code_bin(std::int32_t code, std::size_t& bin) {
  const std::int64_t c = std::int64_t{code} + kCountCodeOffset;
  if (c < 0 || c >= static_cast<std::int64_t>(kCountCodeBins)) return false;
  bin = static_cast<std::size_t>(c);
  return true;
}

}  // namespace spikey::format
