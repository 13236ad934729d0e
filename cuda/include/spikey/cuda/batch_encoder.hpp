// The CUDA encoder of codecs lpc1, mo1-mo3 and mt1-mt3: runs the stages of golomb_batch.hpp and
// mt_batch.hpp on the GPU. Its output
// equals run_batch_on_cpu (and so the chunk-by-chunk CPU encoder) byte for byte.
//
// A batch is split by chunks into two slices, each with its own CUDA stream and device buffers,
// so one slice's transfers overlap the other's kernels. Device buffers grow to the largest slice
// seen and are reused; no managed memory. Host memory for the samples and words comes from the
// encoder's pool of page-locked blocks (memory()), so transfers run from and into it directly.
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

// The host's parts of encode(), in order (wall time on the calling thread; they add up to about
// BatchTiming::seconds): cutting the plan into slices, copying each slice's samples into a
// staging buffer (only for samples from outside the pool), queueing the uploads and kernels,
// waiting for the kernels, downloading the per-stream results, the words' download (into one
// buffer from the pool), and merging the slices' per-stream results.
enum HostPart { kHostPartSlice, kHostPartStageIn, kHostPartQueue, kHostPartWait, kHostPartStreamResults, kHostPartWords, kHostPartMerge, kHostPartCount };
inline constexpr const char* kHostPartNames[kHostPartCount] = {"slice", "stage in", "queue", "wait", "stream results", "words", "merge"};

struct BatchTiming {
  double seconds = 0;           // wall time of encode()
  double kernel_seconds = 0;    // sum over slices of first kernel .. last kernel (CUDA events)
  double stage_seconds[kStageCount] = {};  // per stage, summed over slices (CUDA events)
  double host_seconds[kHostPartCount] = {};  // encode()'s parts on the host (kHostPartNames)
  std::uint64_t input_bytes = 0;
  std::uint64_t output_bytes = 0;
};

class BatchEncoder {
 public:
  BatchEncoder();  // uses CUDA device 0; throws std::runtime_error without one
  ~BatchEncoder();
  BatchEncoder(const BatchEncoder&) = delete;
  BatchEncoder& operator=(const BatchEncoder&) = delete;

  // Runs the plan on the GPU; fills its per-stream results and returns the packed words (the
  // host::BatchExecutor contract; the per-partition results stay on the device: nothing on the
  // host reads them, and lpc1 has a partition per 256 samples). Throws if a value map is not exact.
  host::BatchWords encode(host::BatchPlan& plan, std::span<const std::int16_t> samples);

  // Stages 1-3 only: fills every stream's folded_sum and adapt, as host::predict_batch_on_cpu
  // (the host::BatchPredictor contract: the trainers' candidate passes). Throws if a value map is
  // not exact.
  void predict(host::BatchPlan& plan, std::span<const std::int16_t> samples);

  // Stages 1-3, then the context model's training counts of the streams marked in counts.counted
  // (the host::ContextCountsRunner contract): the same histograms as host::count_context_on_cpu.
  void count_context(host::BatchPlan& plan, std::span<const std::int16_t> samples, host::ContextCounts& counts);

  const BatchTiming& last_timing() const { return timing_; }

  // Page-locked host memory, kept from batch to batch: samples gathered into it are uploaded
  // from where they lie (others are first copied into a slot's staging buffer), and encode()'s
  // words come from it.
  const std::shared_ptr<host::HostMemoryPool>& memory() const { return memory_; }

 private:
  bool in_pool(std::span<const std::int16_t> samples) const;
  struct Slot;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::shared_ptr<host::HostMemoryPool> memory_;
  BatchTiming timing_;
};

}  // namespace spikey::cuda
