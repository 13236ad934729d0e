// The trainers' heavy passes on the GPU (format/codecs/batch/training_batch.hpp), with the CPU
// executors' results bit for bit, so the same trained weights and archive bytes:
//   - the MiddleOut trainer's least-squares sums (exact int64): a CUDA block per slice of a
//     stream's samples, a thread per pair of regressors, partial sums added with 64-bit atomics;
//   - the topology's block sums (a block per stream, a thread per sample block) and the signature
//     correlations of the topology and of lpc1's source choice (tiles of channel pairs), the same
//     float operations in the same order (no fused multiply-adds).
#pragma once

#include <memory>

#include <span>

#include "codecs/mo/normal_sums.hpp"
#include "spikey/host/batch_encoder.hpp"

namespace spikey::cuda {

class NormalSumsExecutor {
 public:
  NormalSumsExecutor();
  ~NormalSumsExecutor();
  NormalSumsExecutor(const NormalSumsExecutor&) = delete;
  NormalSumsExecutor& operator=(const NormalSumsExecutor&) = delete;

  // Fills batch.sums. Device 0, its buffers kept (and grown) between batches; throws
  // std::runtime_error without a device. `kernel_seconds`, when given, receives the time from
  // the first kernel to the last (CUDA events), transfers excluded.
  void run(host::NormalSumsBatch& batch, double* kernel_seconds = nullptr);

  // The topology's block sums (training_batch.hpp stage B) of a plan of training chunks, as
  // host::block_sums_on_cpu: a block per stream, a thread per sample block.
  void block_sums(host::BatchPlan& plan, std::span<const std::int16_t> samples, host::BlockSums& sums);

 private:
  struct Buffers;
  std::unique_ptr<Buffers> buffers_;
};

// Fills correlations.upper as host::training::run_correlations_on_cpu does. Device 0; throws
// std::runtime_error without one. `kernel_seconds`, when given, receives the kernel's time.
void correlate_signatures_on_gpu(host::SignatureCorrelations& correlations, double* kernel_seconds = nullptr);

}  // namespace spikey::cuda
