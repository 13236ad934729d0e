// Encoding many chunks at once with the stage functions of golomb_batch.hpp (codecs lpc1, mo1-mo3)
// and mt_batch.hpp (mt1-mt3): the plan (which streams and partitions or segments a batch holds),
// a CPU executor of the stages (the reference for the CUDA executor, and a check of the
// parallel layout on machines without a GPU), and the assembly of chunk payloads from the
// packed words.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/codecs/batch/golomb_batch.hpp"
#include "spikey/format/codecs/batch/mt_batch.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"

namespace spikey::host {

struct BatchPlan {
  format::BatchCodec codec = format::BatchCodec::kLpc;  // every stream's
  std::uint64_t first_chunk = 0;
  std::vector<std::uint32_t> chunk_first_stream;   // per chunk, plus one past the end
  std::vector<std::uint64_t> chunk_sample_offset;  // per chunk, plus one past the end
  std::vector<format::BatchStream> streams;        // chunk after chunk, present channels in order
  // mt's segments. The Golomb codecs' partitions are not listed: each stream's follow from its
  // length (format::batch_golomb_partition), and an executor lays them out itself.
  std::vector<format::BatchPartition> partitions;
  std::vector<std::int32_t> weights;               // stored weights of every stream's channel
  std::vector<format::MoNetwork> network;          // mo2: the recording's network (one); else empty
  std::uint64_t samples = 0;
  // mt: the model's tables (host memory, kept alive by the owner) and the segments' staging bytes.
  format::MtTableSet mt_tables;
  std::shared_ptr<const void> mt_tables_owner;
  std::uint64_t staging_bytes = 0;
  // Sync channels (§6.10), chunk after chunk: coded as runs when the chunk is assembled.
  struct SyncSlot {
    std::uint32_t chunk = 0;     // within the plan
    std::uint32_t position = 0;  // among the chunk's present channels
    std::uint64_t sample_offset = 0;
    std::uint32_t n = 0;
  };
  std::vector<SyncSlot> sync_slots;

  std::size_t chunk_count() const { return chunk_first_stream.empty() ? 0 : chunk_first_stream.size() - 1; }
  // Partitions of every stream, listed or not.
  std::uint64_t partition_count() const { return streams.empty() ? 0 : std::uint64_t{streams.back().first_partition} + streams.back().partitions; }
};

// The Golomb codecs' partitions of a plan, laid out (stage 0 on the CPU).
std::vector<format::BatchPartition> golomb_partitions(const BatchPlan& plan, unsigned threads);

// Whether the batch stages encode `codec` (lpc1, mo1-mo3, mt1-mt3; not rice1 or the cm codecs).
bool batch_encodes(const std::string& codec);

// The plan for chunks [first_chunk, end_chunk) of an archive of such a codec.
BatchPlan plan_batch(const format::Metadata& meta, std::uint64_t first_chunk, std::uint64_t end_chunk);

// Device bytes the batch needs (for memory-bounded batching).
std::uint64_t batch_device_bytes(const BatchPlan& plan);

// The batch's samples in plan order (Recording::gather of each chunk, one after another), in
// memory from `memory` (null: the heap).
GatheredSamples gather_batch(const Recording& recording, const format::Metadata& meta, const BatchPlan& plan, unsigned threads,
                             const std::shared_ptr<HostMemoryPool>& memory = nullptr);

// Runs the stages (golomb_batch.hpp, or mt_batch.hpp for mt); fills the plan's per-stream results
// and returns the packed words of all streams (mt: bytes in words). The per-partition results
// are the executor's own: nothing after it reads them (the CUDA executor leaves them on the
// device). Throws if a value map is not exact.
using BatchExecutor = std::function<BatchWords(BatchPlan& plan, std::span<const std::int16_t> samples)>;
// The adapting variants (golomb_batch.hpp stage 2c) in the GPU's forms: a stream's taps across
// a warp's 32 lanes (the default), across half a warp's 16, or a stream per thread (the
// sequential reference); every form gives the same bytes.
enum class AdaptingForm { warp, half_warp, thread };
// SPIKEY_GPU_ADAPT (warp, half_warp or thread; unset: warp), for the executors and gpu_bench.
// Throws on any other value.
AdaptingForm adapting_form_from_environment();
const char* adapting_form_name(AdaptingForm form);
BatchWords run_batch_on_cpu(BatchPlan& plan, std::span<const std::int16_t> samples, unsigned threads,
                                            AdaptingForm form = AdaptingForm::warp);

// Stages 1-3 only (value maps, both predictions, the adapt flag): fills every stream's
// folded_sum and adapt, codes nothing (a BatchPredictor).
void predict_batch_on_cpu(BatchPlan& plan, std::span<const std::int16_t> samples, unsigned threads);

// Training chunks (any, in the order given) as a plan of MiddleOut streams for the trainers'
// passes through the prediction stages: every present channel of each chunk, in order. Without a
// candidate, each channel's own model (its network gains, its adapting weights), as the encoder
// predicts it; with one, the stored weights held fixed (lms_step 0) and the network
// `candidate->network` at gains input_gain[c] and output_gain[c] (0: without it). The streams
// are mt's, so folded_sum[0] is mo_residual_cost of the fixed-weight residuals; the plan has no
// partitions and no tables. Its samples: gather_chunks.
struct NetworkCandidate {
  const format::MoNetwork* network = nullptr;
  std::span<const std::int32_t> input_gain, output_gain;
};
BatchPlan plan_training_batch(const format::Metadata& meta, const std::vector<std::uint64_t>& chunks, const NetworkCandidate* candidate);

// The channel of each stream of plan_training_batch(meta, chunks, ...), in stream order.
std::vector<std::uint32_t> training_stream_channels(const format::Metadata& meta, const std::vector<std::uint64_t>& chunks);

// The context model's training counts (training_batch.hpp stage K) of the streams marked in
// `counted`, from their chosen residuals after stages 1-3 (which also fill every stream's adapt).
struct ContextCounts {
  std::vector<char> counted;               // per stream of the plan (input)
  std::vector<std::uint64_t> magnitudes;   // kCountMagnitudeSlots
  std::vector<std::uint64_t> codes;        // kCountCodeBins
};
void count_context_on_cpu(BatchPlan& plan, std::span<const std::int16_t> samples, unsigned threads, ContextCounts& counts);

// Stages 1 and 2a, then stage B of training_batch.hpp: fills sums (offset and sums) for sums.block.
void block_sums_on_cpu(BatchPlan& plan, std::span<const std::int16_t> samples, unsigned threads, BlockSums& sums);

// The samples of `chunks` (any, in the order given): each chunk's Recording::gather, one after
// another, in memory from `memory` (null: the heap).
GatheredSamples gather_chunks(const Recording& recording, const format::Metadata& meta, const std::vector<std::uint64_t>& chunks,
                              unsigned threads, const std::shared_ptr<HostMemoryPool>& memory = nullptr);

// Chunks [first, end) of a plan (indices relative to the plan) as a plan of their own:
// streams only reference streams of their own chunk, so slices encode independently (the
// CUDA executor runs slices on separate CUDA streams to overlap transfers and compute).
BatchPlan slice_plan(const BatchPlan& plan, std::size_t first, std::size_t end);

// Merges the per-stream results of consecutive slices of the plan (run on their own) back into
// the plan, for slice words that lie one after another in one buffer, slice k's from word
// word_base[k] (the CUDA executor downloads them so): with that buffer, what running the whole
// plan gives (its per-partition results excepted).
void merge_slice_results(BatchPlan& plan, const std::vector<BatchPlan>& slices, std::span<const std::uint64_t> word_base);

// Chunk payloads (and decoded-sample checksums) from an executed batch on `threads` threads: the
// stream checks and checksums (each a pass over every sample) in parts of each chunk's channels,
// so a batch of fewer chunks than threads still uses them all.
std::vector<EncodedChunk> assemble_batch(const BatchPlan& plan, std::span<const std::uint32_t> words,
                                         std::span<const std::int16_t> samples, unsigned threads = 1);

}  // namespace spikey::host
