// The MiddleOut trainer's least-squares pass in batches (format/codecs/batch/training_batch.hpp):
// the streams of many (channel, training chunk) pairs, their samples, and the exact int64 sums an
// executor fills. The CPU executor here is the reference of the CUDA one (cuda/training_sums.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/codecs/batch/training_batch.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/training.hpp"

namespace spikey::host {

struct NormalSumsBatch {
  // Training chunk after training chunk, every present channel in order; a stream's model is its
  // channel's candidate model (normal_model), its sources' streams those of the same chunk.
  std::vector<format::BatchStream> streams;
  std::vector<std::uint64_t> sums_offset;  // per stream, plus one past the end: normal_terms of each
  GatheredSamples samples;                 // Recording::gather of each chunk, one after another
  int wavelet_levels = 0;                  // every stream's (0: no wavelet planes)
  std::vector<std::int64_t> sums;          // filled by the executor: sums_offset.back() values
  // Bookkeeping for the trainer (not read by executors):
  std::vector<std::uint32_t> channel;      // per stream
};

// Stages 1, 2a, 2a' and N of training_batch.hpp on `threads` threads; fills batch.sums.
void run_normal_sums_on_cpu(NormalSumsBatch& batch, unsigned threads);

// The batches of a training pass through an executor (the least squares here, the network's
// candidate gains): the chunks in order, each batch holding whole chunks and at most about
// `max_samples` samples (at least one chunk).
std::vector<std::vector<std::uint64_t>> training_batch_chunks(const format::Metadata& meta, const std::vector<std::uint64_t>& chunks,
                                                              std::uint64_t max_samples);

// The least-squares batch of `chunks`: `sources[c]` are channel c's candidate sources (at most
// kMaxMoSources), `order`, `levels` and `half_window` the candidate model's.
struct NormalPassShape {
  int order = 0;
  int levels = 0;
  int half_window = 0;
  std::vector<std::vector<std::uint32_t>> sources;
};
NormalSumsBatch plan_normal_sums(const Recording& recording, const format::Metadata& meta, const std::vector<std::uint64_t>& chunks,
                                 const NormalPassShape& shape, unsigned threads, const std::shared_ptr<HostMemoryPool>& memory = nullptr);

}  // namespace spikey::host
