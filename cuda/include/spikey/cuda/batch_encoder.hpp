// The CUDA encoder of codecs lpc1, mo1-mo3 and mt1-mt3: runs the stages of golomb_batch.hpp and
// mt_batch.hpp on the GPU. Its output
// equals run_batch_on_cpu (and so the chunk-by-chunk CPU encoder) byte for byte.
//
// A batch is split by chunks into two slices, each with its own CUDA stream, device buffers
// and pinned staging buffers, so one slice's transfers overlap the other's kernels. Device
// buffers grow to the largest slice seen and are reused; no managed memory.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "spikey/host/batch_encoder.hpp"

namespace spikey::cuda {

// Kernel stages of the CUDA encoder, in launch order: map (stage 1), predict (2), code (the adapt
// flag, then Golomb indices and layout, or mt classes, segments and layout), scan (word
// offsets), head (Golomb stream heads, mt directories), pack (Golomb lanes, mt segment copies).
inline constexpr int kStageCount = 6;
inline constexpr const char* kStageNames[kStageCount] = {"map", "predict", "code", "scan", "head", "pack"};

struct BatchTiming {
  double seconds = 0;           // wall time of encode()
  double kernel_seconds = 0;    // sum over slices of first kernel .. last kernel (CUDA events)
  double stage_seconds[kStageCount] = {};  // per stage, summed over slices (CUDA events)
  std::uint64_t input_bytes = 0;
  std::uint64_t output_bytes = 0;
};

class BatchEncoder {
 public:
  BatchEncoder();  // uses CUDA device 0; throws std::runtime_error without one
  ~BatchEncoder();
  BatchEncoder(const BatchEncoder&) = delete;
  BatchEncoder& operator=(const BatchEncoder&) = delete;

  // Runs the plan on the GPU; fills its per-stream and per-partition results and returns the
  // packed words (the host::BatchExecutor contract). Throws if a value map is not exact.
  std::vector<std::uint32_t> encode(host::BatchPlan& plan, std::span<const std::int16_t> samples);

  // Stages 1-3 only: fills every stream's folded_sum and adapt, as host::predict_batch_on_cpu
  // (the host::BatchPredictor contract: the trainers' candidate passes). Throws if a value map is
  // not exact.
  void predict(host::BatchPlan& plan, std::span<const std::int16_t> samples);

  // Stages 1-3, then the context model's training counts of the streams marked in counts.counted
  // (the host::ContextCountsRunner contract): the same histograms as host::count_context_on_cpu.
  void count_context(host::BatchPlan& plan, std::span<const std::int16_t> samples, host::ContextCounts& counts);

  const BatchTiming& last_timing() const { return timing_; }

 private:
  struct Slot;
  std::vector<std::unique_ptr<Slot>> slots_;
  BatchTiming timing_;
};

}  // namespace spikey::cuda
