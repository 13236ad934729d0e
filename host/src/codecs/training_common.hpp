// Helpers shared by the predictor trainers (lpc_training.cpp, mo_training.cpp): training-chunk
// choice, the codec's view of the samples, signatures for choosing related channels, and the
// least-squares solver. Internal to host/.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/training.hpp"

namespace spikey::host::training {

inline constexpr int kSignatureBlocks = 2048;    // per channel, for choosing related channels
inline constexpr double kBitsPerStoredWeight = 16;
inline constexpr float kMinimumCorrelation = 0.3f;  // weaker relations are not worth a pass over the data

// Whole chunks spread evenly over the recording, at most `max_samples` per channel.
std::vector<std::uint64_t> training_chunks(const format::Metadata& meta, std::uint64_t max_samples);

// A pass's samples per channel: `per_channel`, or less where the coded (non-sync) channels
// together would pass `in_all` (training_chunks still takes at least one chunk).
std::uint64_t training_samples_per_channel(const format::Metadata& meta, std::uint64_t per_channel, std::uint64_t in_all);

// The chunk length the trainers see (EncodeOptions::training_window_in_all): the archive's
// chunk_samples, or each coded channel's share of `in_all` samples when that is shorter, at least
// kMinTrainingWindow and a whole number of 64-sample blocks. Training on shorter chunks spreads
// each pass's samples over more of the recording; the archive's chunks stay as they are.
inline constexpr std::uint32_t kMinTrainingWindow = 4096;
std::uint32_t training_window(const format::Metadata& meta, std::uint64_t in_all);

// A training pass's work in items of (chunk, run of its present channels): a recording with
// fewer training chunks than threads (many channels, a short recording) still keeps every thread
// busy. Parts are contiguous runs in channel order, so consuming items in order visits the
// channels of each chunk in order, whatever the split.
struct ChunkPart {
  std::size_t chunk = 0;        // index into the pass's chunks
  std::size_t first = 0, end = 0;  // present channels [first, end) of that chunk
};
// About 2 * threads items in all when the chunks alone are fewer, parts of at least 8 channels.
std::vector<ChunkPart> chunk_parts(const format::Metadata& meta, const std::vector<std::uint64_t>& chunks, unsigned threads);

// Runs produce(item, data) for every item of `parts` on `threads` threads and consume(item,
// result) in item order; data = make(chunk index) is built once per chunk, shared by its parts,
// and dropped after its last part.
template <class Data, class Result, class Make, class Produce, class Consume>
void for_each_chunk_part(const std::vector<ChunkPart>& parts, std::size_t chunk_count, unsigned threads, const Make& make,
                         const Produce& produce, const Consume& consume) {
  std::vector<std::once_flag> made(chunk_count);
  std::vector<std::shared_ptr<Data>> data(chunk_count);
  std::vector<std::atomic<std::size_t>> pending(chunk_count);
  for (const auto& part : parts) ++pending[part.chunk];
  ordered_parallel<Result>(
      parts.size(), threads, 2 * std::size_t{threads},
      [&](std::size_t i) {
        const ChunkPart& part = parts[i];
        std::call_once(made[part.chunk], [&] { data[part.chunk] = std::make_shared<Data>(make(part.chunk)); });
        const std::shared_ptr<Data> held = data[part.chunk];
        Result result = produce(part, *held);
        if (--pending[part.chunk] == 0) data[part.chunk].reset();
        return result;
      },
      [&](std::size_t i, Result& result) { consume(parts[i], result); });
}

// Solves the symmetric positive definite system A x = b (Cholesky); false if singular.
bool solve_spd(std::vector<std::vector<double>> A, std::vector<double> b, std::vector<double>& x);

std::int32_t quantize_weight(double a, std::uint32_t shift);

// The codes of each present channel of a chunk.
std::vector<std::vector<std::int32_t>> chunk_codes(const Recording& recording, const format::Metadata& meta, std::uint64_t chunk,
                                                   format::ChunkChannels& present);

// Clamped code differences c[t] of each present channel of a chunk (c[0] = 0), as the codecs
// see them; only for the channels in `wanted` when given (the others stay empty).
std::vector<std::vector<std::int32_t>> clamped_differences(const Recording& recording, const format::Metadata& meta, std::uint64_t chunk,
                                                           format::ChunkChannels& present, const std::vector<char>* wanted = nullptr);

// The wavelet features (wavelet_features.hpp) a MiddleOut predictor sees in a chunk of clamped
// differences d (n samples), all at once: features[k * n + t] is feature k (0..levels) at
// sample t, as wavelet_step gives it after the samples 1..t-1 (0 at t <= 1). The filters run
// level by level over the whole chunk (vectorized) instead of sample by sample; the integer
// sums are the same.
void wavelet_feature_series(int levels, const std::vector<std::int32_t>& d, std::vector<std::int16_t>& features);

// sum_t a[t] * b[t - lag] over the overlap (lag >= 0), exact (see the definition).
double lagged_dot(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b, int lag);
// out[lag] = lagged_dot(a, b, lag) for every lag in 0..max_lag, the same sums: both series in
// 16 bits once, then one vectorized pass per lag (multiply-adds of 16-bit pairs).
void lagged_dots(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b, int max_lag, double* out);

// Block sums of c with blocks of `block` samples, appended to `signature`.
void append_block_sums(const std::vector<std::int32_t>& c, std::uint64_t block, std::vector<double>& signature);

// Signatures centred and scaled to unit length, cut to the shortest; a correlation is then one
// dot product (signature_dot).
std::vector<std::vector<float>> unit_signatures(const std::vector<std::vector<double>>& signatures, unsigned threads);
float signature_dot(const std::vector<float>& a, const std::vector<float>& b);

// |correlation| of every pair of unit signatures, row c holding pairs (c, s > c).
struct CorrelationMatrix {
  std::vector<std::vector<float>> upper;
  float operator()(std::size_t a, std::size_t b) const {
    if (a == b) return 1.0f;
    return a < b ? upper[a][b - a] : upper[b][a - b];
  }
};
// Through `runner` when it is set (an executor of training_batch.hpp's stage C), else here.
CorrelationMatrix correlate(const std::vector<std::vector<float>>& unit, unsigned threads, const CorrelationRunner& runner = {});

// Stage C on the CPU: the reference of the CUDA executor.
void run_correlations_on_cpu(SignatureCorrelations& correlations, unsigned threads);

}  // namespace spikey::host::training
