#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "batch_kernels.cuh"
#include "spikey/cuda/cuda_check.cuh"
#include "spikey/cuda/training_sums.hpp"
#include "spikey/format/codecs/batch/training_batch.hpp"

namespace spikey::cuda {

namespace f = spikey::format;

namespace {

// Blocks of kNormalBlock samples per CUDA block: a stream of 1 s at 30 kHz gives 30 slices, so a
// batch of a few hundred streams fills 132 SMs many times over.
constexpr std::uint32_t kBlocksPerSlice = 16;
constexpr std::uint32_t kTermsPerThread = (f::normal_terms(f::kMaxNormalSize) + kBlock - 1) / kBlock;

// A slice: stream `stream`'s blocks [first, first + kBlocksPerSlice).
struct NormalSlice {
  std::uint32_t stream = 0;
  std::uint32_t first = 0;
};

// Stage N: a CUDA block per slice. Its threads fill the tile of each sample block (a thread per
// value), then each thread adds the block's dot products of its pairs to registers; at the
// slice's end the partial sums go to the stream's sums with atomics (exact, so in any order).
__global__ void normal_sums_kernel(const f::BatchStream* streams, const NormalSlice* slices, std::uint32_t slice_count, const std::int16_t* diffs,
                                   const std::int16_t* planes, std::uint64_t stride, const std::uint64_t* sums_offset, unsigned long long* sums) {
  __shared__ std::int16_t tile[f::kMaxNormalSize * f::kNormalTileRow];
  for (std::uint32_t i = blockIdx.x; i < slice_count; i += gridDim.x) {
    const NormalSlice slice = slices[i];
    const f::BatchStream& s = streams[slice.stream];
    const int size = f::normal_size(s);
    const std::uint32_t terms = f::normal_terms(size);
    int pair_a[kTermsPerThread], pair_b[kTermsPerThread];
    long long partial[kTermsPerThread];
    for (std::uint32_t k = 0; k < kTermsPerThread; ++k) {
      const std::uint32_t term = threadIdx.x + k * blockDim.x;
      partial[k] = 0;
      pair_a[k] = pair_b[k] = 0;
      if (term < terms) f::normal_term_pair(size, term, pair_a[k], pair_b[k]);
    }
    const std::uint32_t end = min(slice.first + kBlocksPerSlice, f::normal_blocks(s));
    for (std::uint32_t block = slice.first; block < end; ++block) {
      __syncthreads();  // the previous block's tile is read
      for (std::uint32_t v = threadIdx.x; v < static_cast<std::uint32_t>(size) * f::kNormalBlock; v += blockDim.x)
        f::normal_fill_value(s, streams, block, static_cast<int>(v / f::kNormalBlock), v % f::kNormalBlock, diffs, planes, stride, tile);
      __syncthreads();
      for (std::uint32_t k = 0; k < kTermsPerThread; ++k)
        if (threadIdx.x + k * blockDim.x < terms) partial[k] += f::normal_block_dot(tile, pair_a[k], pair_b[k]);
    }
    for (std::uint32_t k = 0; k < kTermsPerThread; ++k) {
      const std::uint32_t term = threadIdx.x + k * blockDim.x;
      if (term < terms && partial[k] != 0) atomicAdd(sums + sums_offset[slice.stream] + term, static_cast<unsigned long long>(partial[k]));
    }
  }
}

// Stage C in tiles: a block of kTile x kTile threads computes the pairs of kTile channels (rows,
// c) with kTile channels (columns, s), staging slabs of their signatures through shared memory,
// so that each value read from L2 serves kTile pairs (a thread per pair would read every
// signature once per pair: terabytes at 1024 channels). Only tiles on or above the diagonal run;
// blockIdx.y steps through the row tiles (more than 65535 of them: a stride).
constexpr std::uint32_t kTile = 16;
constexpr std::uint32_t kSlab = 64;  // values per slab, whole groups of kSignatureGroup
static_assert(kSlab % f::kSignatureGroup == 0);

__global__ void correlation_kernel(const float* unit, std::uint32_t channels, std::uint64_t length, float* upper) {
  __shared__ float rows[kTile][kSlab + 1], columns[kTile][kSlab + 1];  // + 1: the 16 columns a warp reads lie in different banks
  const std::uint32_t tiles = (channels + kTile - 1) / kTile, tile_s = blockIdx.x;
  for (std::uint32_t tile_c = blockIdx.y; tile_c <= tile_s && tile_c < tiles; tile_c += gridDim.y) {  // tiles on or above the diagonal
    const std::uint32_t c = tile_c * kTile + threadIdx.y, s = tile_s * kTile + threadIdx.x;
    const std::uint32_t thread = threadIdx.y * kTile + threadIdx.x;
    const std::uint64_t whole = length / f::kSignatureGroup * f::kSignatureGroup;
    float partial[f::kSignatureGroup] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (std::uint64_t base = 0; base < whole; base += kSlab) {
      const auto span = static_cast<std::uint32_t>(min(std::uint64_t{kSlab}, whole - base));
      __syncthreads();  // the previous slab is read
      for (std::uint32_t v = thread; v < kTile * kSlab; v += kTile * kTile) {
        const std::uint32_t r = v / kSlab, i = v % kSlab;
        const std::uint32_t row = tile_c * kTile + r, column = tile_s * kTile + r;
        rows[r][i] = row < channels && i < span ? unit[std::uint64_t{row} * length + base + i] : 0.0f;
        columns[r][i] = column < channels && i < span ? unit[std::uint64_t{column} * length + base + i] : 0.0f;
      }
      __syncthreads();
      for (std::uint32_t i = 0; i < span; i += f::kSignatureGroup) f::signature_dot_group(partial, &rows[threadIdx.y][i], &columns[threadIdx.x][i]);
    }
    if (c < channels && s < channels && s > c) {
      const float dot = f::signature_dot_finish(partial, unit + std::uint64_t{c} * length, unit + std::uint64_t{s} * length, whole, length);
      upper[f::signature_pair_index(channels, c, s)] = fabsf(dot);
    }
  }
}

// Stage B: a block per stream, its threads over the stream's sample blocks.
__global__ void block_sums_kernel(const f::BatchStream* streams, std::uint32_t stream_count, std::uint64_t block, const std::uint64_t* offset,
                                  const std::int16_t* diffs, long long* sums) {
  for (std::uint32_t s = blockIdx.x; s < stream_count; s += gridDim.x)
    for (std::uint64_t b = threadIdx.x; b < f::signature_blocks(streams[s], block); b += blockDim.x)
      sums[offset[s] + b] = f::signature_block_sum(streams[s], block, b, diffs);
}

}  // namespace

struct NormalSumsExecutor::Buffers {
  DeviceBuffer<std::int16_t> samples, diffs, planes;
  DeviceBuffer<std::int32_t> codes;
  DeviceBuffer<f::BatchStream> streams;
  DeviceBuffer<NormalSlice> slices;
  DeviceBuffer<std::uint64_t> sums_offset;
  DeviceBuffer<unsigned long long> sums;
  DeviceBuffer<int> inexact;
  DeviceBuffer<long long> block_sums;
};

NormalSumsExecutor::NormalSumsExecutor() : buffers_(std::make_unique<Buffers>()) {}
NormalSumsExecutor::~NormalSumsExecutor() = default;

void NormalSumsExecutor::run(host::NormalSumsBatch& batch, double* kernel_seconds) {
  static_assert(sizeof(unsigned long long) == sizeof(std::int64_t), "sums travel as 64-bit words");
  Buffers& b = *buffers_;
  const auto stream_count = static_cast<std::uint32_t>(batch.streams.size());
  const std::uint64_t samples = batch.samples.size();
  const std::uint64_t terms = batch.sums_offset.empty() ? 0 : batch.sums_offset.back();
  batch.sums.assign(terms, 0);
  if (stream_count == 0 || terms == 0) return;
  std::vector<NormalSlice> slices;
  for (std::uint32_t i = 0; i < stream_count; ++i)
    for (std::uint32_t first = 0; first < f::normal_blocks(batch.streams[i]); first += kBlocksPerSlice) slices.push_back({i, first});
  const auto slice_count = static_cast<std::uint32_t>(slices.size());

  SPIKEY_CUDA_TRY(cudaMemcpy(b.samples.reserve(samples), batch.samples.data(), samples * sizeof(std::int16_t), cudaMemcpyHostToDevice));
  SPIKEY_CUDA_TRY(cudaMemcpy(b.streams.reserve(stream_count), batch.streams.data(), stream_count * sizeof(f::BatchStream), cudaMemcpyHostToDevice));
  SPIKEY_CUDA_TRY(cudaMemcpy(b.slices.reserve(slices.size()), slices.data(), slices.size() * sizeof(NormalSlice), cudaMemcpyHostToDevice));
  SPIKEY_CUDA_TRY(cudaMemcpy(b.sums_offset.reserve(stream_count + 1), batch.sums_offset.data(), (stream_count + 1) * sizeof(std::uint64_t),
                             cudaMemcpyHostToDevice));
  SPIKEY_CUDA_TRY(cudaMemset(b.sums.reserve(terms), 0, terms * sizeof(unsigned long long)));
  SPIKEY_CUDA_TRY(cudaMemset(b.inexact.reserve(1), 0, sizeof(int)));
  const std::uint64_t plane_values = std::max<std::uint64_t>(1, 2 * static_cast<std::uint64_t>(batch.wavelet_levels) * samples);

  KernelTimer timer;
  const unsigned per_stream = std::max(1u, std::min(stream_count, 65535u));
  timer.start();
  // The training pass ignores whether a value map is exact (the encoder checks that when it
  // encodes), as the CPU trainer does.
  map_kernel<<<per_stream, kBlock>>>(b.streams.get(), stream_count, b.samples.get(), b.codes.reserve(samples), b.inexact.get());
  SPIKEY_CUDA_CHECK_LAUNCH(nullptr);
  clamped_difference_kernel<<<per_stream, kBlock>>>(b.streams.get(), stream_count, b.codes.get(), b.diffs.reserve(samples));
  SPIKEY_CUDA_CHECK_LAUNCH(nullptr);
  std::int16_t* planes = b.planes.reserve(plane_values);
  for (int level = 1; level <= batch.wavelet_levels; ++level) {
    wavelet_level_kernel<<<per_stream, kBlock>>>(b.streams.get(), stream_count, level, b.diffs.get(), planes, samples);
    SPIKEY_CUDA_CHECK_LAUNCH(nullptr);
  }
  if (slice_count > 0) {
    normal_sums_kernel<<<std::min(slice_count, 1u << 20), kBlock>>>(b.streams.get(), b.slices.get(), slice_count, b.diffs.get(), planes, samples,
                                                                  b.sums_offset.get(), b.sums.get());
    SPIKEY_CUDA_CHECK_LAUNCH(nullptr);
  }
  const double seconds = timer.seconds();
  if (kernel_seconds != nullptr) *kernel_seconds = seconds;
  SPIKEY_CUDA_TRY(cudaMemcpy(batch.sums.data(), b.sums.get(), terms * sizeof(std::int64_t), cudaMemcpyDeviceToHost));
}

void NormalSumsExecutor::block_sums(host::BatchPlan& plan, std::span<const std::int16_t> samples, host::BlockSums& sums) {
  static_assert(sizeof(long long) == sizeof(std::int64_t), "sums travel as 64-bit words");
  Buffers& b = *buffers_;
  const auto stream_count = static_cast<std::uint32_t>(plan.streams.size());
  sums.offset.assign(1, 0);
  for (const auto& s : plan.streams) sums.offset.push_back(sums.offset.back() + f::signature_blocks(s, sums.block));
  sums.sums.assign(sums.offset.back(), 0);
  if (stream_count == 0 || sums.sums.empty()) return;
  SPIKEY_CUDA_TRY(cudaMemcpy(b.samples.reserve(samples.size()), samples.data(), samples.size() * sizeof(std::int16_t), cudaMemcpyHostToDevice));
  SPIKEY_CUDA_TRY(cudaMemcpy(b.streams.reserve(stream_count), plan.streams.data(), stream_count * sizeof(f::BatchStream), cudaMemcpyHostToDevice));
  SPIKEY_CUDA_TRY(cudaMemcpy(b.sums_offset.reserve(stream_count + 1), sums.offset.data(), (stream_count + 1) * sizeof(std::uint64_t),
                             cudaMemcpyHostToDevice));
  SPIKEY_CUDA_TRY(cudaMemset(b.inexact.reserve(1), 0, sizeof(int)));
  const unsigned per_stream = std::max(1u, std::min(stream_count, 65535u));
  map_kernel<<<per_stream, kBlock>>>(b.streams.get(), stream_count, b.samples.get(), b.codes.reserve(samples.size()), b.inexact.get());
  SPIKEY_CUDA_CHECK_LAUNCH(nullptr);
  clamped_difference_kernel<<<per_stream, kBlock>>>(b.streams.get(), stream_count, b.codes.get(), b.diffs.reserve(samples.size()));
  SPIKEY_CUDA_CHECK_LAUNCH(nullptr);
  block_sums_kernel<<<per_stream, kBlock>>>(b.streams.get(), stream_count, sums.block, b.sums_offset.get(), b.diffs.get(),
                                            b.block_sums.reserve(sums.sums.size()));
  SPIKEY_CUDA_CHECK_LAUNCH(nullptr);
  SPIKEY_CUDA_TRY(cudaMemcpy(sums.sums.data(), b.block_sums.get(), sums.sums.size() * sizeof(std::int64_t), cudaMemcpyDeviceToHost));
}

void correlate_signatures_on_gpu(host::SignatureCorrelations& job, double* kernel_seconds) {
  const std::uint64_t pairs = std::uint64_t{job.channels} * (job.channels > 0 ? job.channels - 1 : 0) / 2;
  job.upper.assign(pairs, 0.0f);
  if (pairs == 0) return;
  DeviceBuffer<float> unit, upper;
  SPIKEY_CUDA_TRY(cudaMemcpy(unit.reserve(job.unit.size()), job.unit.data(), job.unit.size() * sizeof(float), cudaMemcpyHostToDevice));
  KernelTimer timer;
  timer.start();
  const std::uint32_t tiles = (job.channels + kTile - 1) / kTile;
  correlation_kernel<<<dim3(tiles, std::min(tiles, 65535u)), dim3(kTile, kTile)>>>(unit.get(), job.channels, job.length, upper.reserve(pairs));
  SPIKEY_CUDA_CHECK_LAUNCH(nullptr);
  const double seconds = timer.seconds();
  if (kernel_seconds != nullptr) *kernel_seconds = seconds;
  SPIKEY_CUDA_TRY(cudaMemcpy(job.upper.data(), upper.get(), pairs * sizeof(float), cudaMemcpyDeviceToHost));
}

}  // namespace spikey::cuda
