// What the CUDA executors share (the batch encoder, batch_encoder.cu, and the training sums,
// training_sums.cu): launch sizes, device and pinned buffers that only grow, and the kernels of
// the prediction inputs (golomb_batch.hpp stages 1, 2a and 2a') that both run before their own.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "spikey/cuda/cuda_check.cuh"
#include "spikey/format/codecs/batch/golomb_batch.hpp"

namespace spikey::cuda {
namespace {

constexpr int kBlock = 256;

unsigned blocks_for(std::uint64_t threads) { return static_cast<unsigned>(std::max<std::uint64_t>(1, (threads + kBlock - 1) / kBlock)); }

// Kernels whose threads each run a long sequential loop (a stream's scale chain, a segment's
// rANS run, a partition's index search): there are few such threads (a few thousand), and in
// 256-thread blocks they filled a fifth of the H200's 132 multiprocessors and waited on their
// memory there; in warp-sized blocks they spread over all of them.
constexpr int kSequentialBlock = 32;

unsigned sequential_blocks_for(std::uint64_t threads) {
  return static_cast<unsigned>(std::max<std::uint64_t>(1, (threads + kSequentialBlock - 1) / kSequentialBlock));
}

// Memory that only grows (a slot serves batches of similar size again and again): device memory,
// or page-locked host memory, so that copies run asynchronously on the slot's stream.
enum class Memory { device, pinned };
template <typename T, Memory kind>
class GrowingBuffer {
 public:
  GrowingBuffer() = default;
  GrowingBuffer(const GrowingBuffer&) = delete;
  GrowingBuffer& operator=(const GrowingBuffer&) = delete;
  ~GrowingBuffer() { release(); }
  T* reserve(std::size_t count) {
    if (count > capacity_) {
      SPIKEY_CUDA_TRY(release());
      data_ = nullptr;
      const std::size_t bytes = std::max<std::size_t>(count, 1) * sizeof(T);
      SPIKEY_CUDA_TRY(kind == Memory::device ? cudaMalloc(&data_, bytes) : cudaHostAlloc(&data_, bytes, cudaHostAllocDefault));
      capacity_ = count;
    }
    return data_;
  }
  T* get() const { return data_; }

 private:
  cudaError_t release() { return kind == Memory::device ? cudaFree(data_) : cudaFreeHost(data_); }
  T* data_ = nullptr;
  std::size_t capacity_ = 0;
};
template <typename T>
using DeviceBuffer = GrowingBuffer<T, Memory::device>;
template <typename T>
using PinnedBuffer = GrowingBuffer<T, Memory::pinned>;

// The time between start() and seconds() on the default stream (CUDA events); seconds() waits.
class KernelTimer {
 public:
  KernelTimer() {
    SPIKEY_CUDA_TRY(cudaEventCreate(&started_));
    SPIKEY_CUDA_TRY(cudaEventCreate(&finished_));
  }
  ~KernelTimer() {
    cudaEventDestroy(started_);
    cudaEventDestroy(finished_);
  }
  KernelTimer(const KernelTimer&) = delete;
  KernelTimer& operator=(const KernelTimer&) = delete;
  void start() { SPIKEY_CUDA_TRY(cudaEventRecord(started_)); }
  double seconds() {
    SPIKEY_CUDA_TRY(cudaEventRecord(finished_));
    SPIKEY_CUDA_TRY(cudaEventSynchronize(finished_));
    float ms = 0;
    SPIKEY_CUDA_TRY(cudaEventElapsedTime(&ms, started_, finished_));
    return ms / 1000.0;
  }

 private:
  cudaEvent_t started_ = nullptr, finished_ = nullptr;
};

// ---- the prediction inputs: a block per stream, its threads over time (consecutive t, coalesced)

__global__ void map_kernel(const ::spikey::format::BatchStream* streams, std::uint32_t stream_count, const std::int16_t* samples, std::int32_t* codes,
                           int* inexact) {
  for (std::uint32_t s = blockIdx.x; s < stream_count; s += gridDim.x) {
    const ::spikey::format::BatchStream& stream = streams[s];
    for (std::uint32_t t = threadIdx.x; t < stream.n; t += blockDim.x)
      if (!::spikey::format::batch_map_sample(stream, t, samples, codes)) *inexact = 1;
  }
}

__global__ void clamped_difference_kernel(const ::spikey::format::BatchStream* streams, std::uint32_t stream_count, const std::int32_t* codes, std::int16_t* diffs) {
  for (std::uint32_t s = blockIdx.x; s < stream_count; s += gridDim.x)
    for (std::uint32_t t = threadIdx.x; t < streams[s].n; t += blockDim.x) ::spikey::format::batch_clamped_difference(streams[s], t, codes, diffs);
}

__global__ void wavelet_level_kernel(const ::spikey::format::BatchStream* streams, std::uint32_t stream_count, int level, const std::int16_t* diffs,
                                     std::int16_t* planes, std::uint64_t stride) {
  for (std::uint32_t s = blockIdx.x; s < stream_count; s += gridDim.x)
    if (streams[s].wavelet_levels >= level)
      for (std::uint32_t t = threadIdx.x; t < streams[s].n; t += blockDim.x) ::spikey::format::batch_wavelet_level(streams[s], level, t, diffs, planes, stride);
}

}  // namespace
}  // namespace spikey::cuda
