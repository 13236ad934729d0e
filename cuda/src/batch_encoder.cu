#include <cub/block/block_reduce.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>
#include <thread>

#include "spikey/cuda/batch_encoder.hpp"
#include "batch_kernels.cuh"
#include "spikey/cuda/cuda_check.cuh"
#include "spikey/cuda/device.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/stopwatch.hpp"
#include "spikey/format/codecs/batch/golomb_batch.hpp"
#include "spikey/format/codecs/batch/mt_batch.hpp"
#include "spikey/format/codecs/batch/training_batch.hpp"

namespace spikey::cuda {

namespace f = spikey::format;

namespace {

static_assert(whole_warps<kBlock>, "the packing kernel runs a warp per partition: blocks must hold whole warps");
static_assert(f::kBatchLanes == 32, "pack_kernel's shuffle scan spans one full warp");

// The adapting variants' form (host::adapting_form_from_environment): a warp per stream (the
// default), half a warp per stream (two streams a warp: fewer instructions a sample where the
// warp form is bound by issue), or, for lpc1, a thread per stream. The device check times each;
// every form writes the same bytes.
using host::AdaptingForm;

// ---- kernels: one element of a stage each (golomb_batch.hpp, mt_batch.hpp) ------------------

// lpc1's prediction in parts (golomb_batch.hpp stage 2a-2c; 2a, the clamped differences, in
// batch_kernels.cuh). 2b: a block per stream, its threads over time (consecutive t, coalesced);
// 2c: a warp (or a thread) per adapting stream.
using FixedSumReduce = cub::BlockReduce<unsigned long long, kBlock>;

// A block's stream: the sum of its fixed-weight costs (batch_fixed_cost_at; an integer sum, the
// same in any order) into folded_sum[0], once every residual is written.
__device__ void store_fixed_sum(FixedSumReduce::TempStorage& temp, f::BatchStream& stream, const std::uint32_t* folded_fixed) {
  __syncthreads();  // every residual written before they are summed
  unsigned long long sum = 0;
  for (std::uint32_t t = threadIdx.x; t < stream.n; t += blockDim.x) sum += f::batch_fixed_cost_at(stream, t, folded_fixed);
  const unsigned long long total = FixedSumReduce(temp).Sum(sum);
  if (threadIdx.x == 0) stream.folded_sum[0] = total;
  __syncthreads();  // temp is reused by the next stream
}

// A block's stream's fixed-weight inputs (BatchFixedTaps) in shared memory, resolved a tap per
// thread once instead of at every sample (each resolution reads the stream and its source).
// Raw storage: a __shared__ variable cannot have a constructor.
struct SharedFixedTaps {
  alignas(f::BatchFixedTaps) unsigned char bytes[sizeof(f::BatchFixedTaps)];
  __device__ f::BatchFixedTaps& get() { return *reinterpret_cast<f::BatchFixedTaps*>(bytes); }
};

// The fixed-weight residuals of each stream and their sum.
__global__ void lpc_fixed_kernel(f::BatchStream* streams, std::uint32_t stream_count, const std::int32_t* codes, const std::int16_t* diffs,
                                 const std::int32_t* weights, std::uint32_t* folded_fixed) {
  __shared__ FixedSumReduce::TempStorage temp;
  __shared__ SharedFixedTaps shared_taps;
  f::BatchFixedTaps& fixed = shared_taps.get();
  for (std::uint32_t s = blockIdx.x; s < stream_count; s += gridDim.x) {
    f::BatchStream& stream = streams[s];
    const f::LpcModel model = f::batch_model(stream, false);
    for (int i = static_cast<int>(threadIdx.x); i < model.taps(); i += static_cast<int>(blockDim.x))
      f::batch_lpc_fixed_tap(model, stream, streams, diffs, weights, i, fixed);
    if (threadIdx.x == 0) fixed.count = model.taps();
    __syncthreads();
    const f::BatchStream local = stream;  // in registers: the loop's stores cannot alias it
    for (std::uint32_t t = 1 + threadIdx.x; t < local.n; t += blockDim.x) f::batch_lpc_fixed_residual(local, fixed, t, codes, folded_fixed);
    store_fixed_sum(temp, stream, folded_fixed);  // its barriers also keep `fixed` until every thread is done with it
  }
}

// The sum of the partial sums of one stream's lanes: the whole warp, or this thread's half of it
// (each half names only its own lanes, so the two streams of a warp run apart where they differ).
template <int Lanes>
__device__ std::int32_t stream_lanes_sum(std::int32_t partial) {
  static_assert(Lanes == 32 || Lanes == 16, "a warp or half a warp per stream");
  const unsigned lanes = Lanes == 32 ? 0xffffffffu : 0xffffu << (threadIdx.x & 16u);
  return static_cast<std::int32_t>(__reduce_add_sync(lanes, static_cast<unsigned>(partial)));
}

// The lane forms: `Lanes` threads per adapting stream, taps across them, the accumulator summed
// exactly (golomb_batch.hpp batch_lpc_adapting_in_lanes' arithmetic). The inputs and the code of
// step t + 1 are loaded before step t's reduction, so their latency overlaps it instead of
// starting each step (none of them depends on the weights).
template <int Lanes>
__global__ void lpc_adapting_lanes_kernel(f::BatchStream* streams, std::uint32_t stream_count, const std::int32_t* codes,
                                          const std::int16_t* diffs, const std::int32_t* weights, std::uint32_t* folded_adapting) {
  const std::uint64_t s = (std::uint64_t{blockIdx.x} * blockDim.x + threadIdx.x) / Lanes;
  const int lane = static_cast<int>(threadIdx.x % Lanes);
  if (s >= stream_count) return;  // a stream's lanes leave together
  f::BatchStream& stream = streams[s];
  if (stream.lms_step == 0) {
    if (lane == 0) stream.folded_sum[1] = 0;
    return;
  }
  const f::LpcModel model = f::batch_model(stream, true);
  f::BatchLane<Lanes> own;
  f::batch_lpc_lane_start(model, stream, streams, diffs, weights, lane, own);
  f::batch_lane_inputs(own, 1, own.input);
  const std::uint32_t n = stream.n;
  const std::int32_t* u = codes + stream.sample_offset;
  std::uint32_t* out = folded_adapting + stream.sample_offset;
  std::int32_t previous = u[0], code = n > 1 ? u[1] : 0;
  unsigned long long sum = 0;
  for (std::uint32_t t = 1; t < n; ++t) {
    std::int32_t next[f::BatchLane<Lanes>::kTaps];
    f::batch_lane_inputs(own, t + 1, next);
    const std::int32_t next_code = t + 1 < n ? u[t + 1] : 0;
    const std::int32_t acc = stream_lanes_sum<Lanes>(f::batch_lane_partial(own));
    std::int32_t e = 0;
    const std::uint32_t folded = f::batch_lpc_fold(model, code - previous, acc, e);
    if (lane == 0) out[t - 1] = folded;
    sum += folded;
    f::batch_lane_update(model.lms_step, e, own);
    for (int k = 0; k < f::BatchLane<Lanes>::kTaps; ++k) own.input[k] = next[k];
    previous = code, code = next_code;
  }
  if (lane == 0) stream.folded_sum[1] = sum;
}

__global__ void lpc_adapting_kernel(f::BatchStream* streams, std::uint32_t stream_count, const std::int32_t* codes, const std::int16_t* diffs,
                                    const std::int32_t* weights, std::uint32_t* folded_adapting) {
  const std::uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
  if (s >= stream_count) return;
  f::BatchStream& stream = streams[s];
  stream.folded_sum[1] = stream.lms_step != 0 ? f::batch_lpc_adapting_stream(stream, streams, codes, diffs, weights, folded_adapting) : 0;
}

// The MiddleOut codecs' fixed variant in parts (golomb_batch.hpp 2b, after the wavelet planes of
// 2a' in batch_kernels.cuh): each residual, a block per stream over time; streams whose network
// has a state (GRU) are left to fold_kernel.
__global__ void mo_fixed_kernel(f::BatchStream* streams, std::uint32_t stream_count, const std::int32_t* codes, const std::int16_t* diffs,
                                const std::int16_t* planes, std::uint64_t stride, const std::int32_t* weights, const f::MoNetwork* network,
                                std::uint32_t* folded_fixed) {
  __shared__ FixedSumReduce::TempStorage temp;
  __shared__ SharedFixedTaps shared_taps;
  f::BatchFixedTaps& fixed = shared_taps.get();
  for (std::uint32_t s = blockIdx.x; s < stream_count; s += gridDim.x) {
    f::BatchStream& stream = streams[s];
    if (!f::batch_mo_in_parts(stream, network)) continue;  // uniform in the block
    const f::MoModel m = f::batch_mo_model(stream, false, network);
    for (int i = static_cast<int>(threadIdx.x); i < m.taps(); i += static_cast<int>(blockDim.x))
      f::batch_mo_fixed_tap(m, stream, streams, diffs, planes, stride, weights, i, fixed);
    if (threadIdx.x == 0) fixed.count = m.taps();
    __syncthreads();
    const f::BatchStream local = stream;  // in registers: the loop's stores cannot alias it
    for (std::uint32_t t = threadIdx.x; t < local.n; t += blockDim.x) f::batch_mo_fixed_residual(local, fixed, t, codes, diffs, network, folded_fixed);
    store_fixed_sum(temp, stream, folded_fixed);  // its barriers also keep `fixed` until every thread is done with it
  }
}

// The MiddleOut adapting variant in a lane form (batch_mo_adapting_in_lanes' arithmetic), for
// streams whose network has no state; GRU streams stay in fold_kernel. The ReLU network's units
// are spread over the lanes as the taps are (a second sum per step), and its inputs from the
// recent differences move along in registers: each step adds the newest, c[t].
template <int Lanes>
__global__ void mo_adapting_lanes_kernel(f::BatchStream* streams, std::uint32_t stream_count, const std::int32_t* codes, const std::int16_t* diffs,
                                         const std::int16_t* planes, std::uint64_t stride, const std::int32_t* weights, const f::MoNetwork* network,
                                         std::uint32_t* folded_adapting) {
  const std::uint64_t s = (std::uint64_t{blockIdx.x} * blockDim.x + threadIdx.x) / Lanes;
  const int lane = static_cast<int>(threadIdx.x % Lanes);
  if (s >= stream_count) return;  // a stream's lanes leave together
  f::BatchStream& stream = streams[s];
  if (!f::batch_mo_in_parts(stream, network)) return;
  if (stream.lms_step == 0) {
    if (lane == 0) stream.folded_sum[1] = 0;
    return;
  }
  const f::BatchStream local = stream;  // in registers: the loop's stores cannot alias it
  const f::MoModel m = f::batch_mo_model(local, true, network);
  f::BatchLane<Lanes> own;
  f::batch_mo_lane_start(m, local, streams, diffs, planes, stride, weights, lane, own);
  f::batch_lane_inputs(own, 1, own.input);
  const bool uses_network = m.uses_network();
  f::BatchNetLane<Lanes> units;
  std::int32_t x[f::kNetInputs] = {};  // the network's inputs at t (batch_mo_net_inputs)
  std::int32_t b2 = 0;
  const f::BatchTap newest = f::batch_difference_tap(local, diffs, 0);  // c[t]
  if (uses_network) {
    f::batch_net_lane_start(*m.network, lane, units);
    for (int k = 0; k < f::kNetHistory; ++k) x[k] = f::net_input(f::batch_difference_tap(local, diffs, k - f::kNetHistory).at(1), m.net_input_gain);
    b2 = m.network->b2;
  }
  if (local.codec == f::BatchCodec::kMt && lane == 0) folded_adapting[local.sample_offset] = 0;  // z[0]
  const std::uint32_t n = local.n;
  const std::int32_t* u = codes + local.sample_offset;
  std::int32_t previous = u[0], code = n > 1 ? u[1] : 0;
  unsigned long long sum = 0;
  for (std::uint32_t t = 1; t < n; ++t) {  // inputs one step ahead, as lpc_adapting_lanes_kernel
    std::int32_t next[f::BatchLane<Lanes>::kTaps];
    f::batch_lane_inputs(own, t + 1, next);
    const std::int32_t next_code = t + 1 < n ? u[t + 1] : 0;
    const std::int32_t newest_input = uses_network ? f::net_input(newest.at(t), m.net_input_gain) : 0;
    std::int32_t acc = stream_lanes_sum<Lanes>(f::batch_lane_partial(own));
    if (uses_network) {
      x[f::kNetHistory] = f::net_prediction_input(f::lpc_prediction(acc, m.weight_shift), m.net_input_gain);
      acc += f::net_correction(b2 + stream_lanes_sum<Lanes>(f::batch_net_lane_partial(units, x)), m.net_output_gain);
      for (int k = 0; k + 1 < f::kNetHistory; ++k) x[k] = x[k + 1];
      x[f::kNetHistory - 1] = newest_input;
    }
    std::int32_t e = 0;  // every lane derives the residual, lane 0 stores it
    sum += f::batch_mo_fold(m, local, t, code - previous, acc, e, lane == 0 ? folded_adapting : nullptr);
    f::batch_lane_update(m.lms_step, e, own);
    for (int k = 0; k < f::BatchLane<Lanes>::kTaps; ++k) own.input[k] = next[k];
    previous = code, code = next_code;
  }
  if (lane == 0) stream.folded_sum[1] = sum;
}

// Sequential in time: one thread per (stream, variant).
__global__ void fold_kernel(f::BatchStream* streams, std::uint32_t stream_count, const std::int32_t* codes, const std::int32_t* weights,
                            const f::MoNetwork* network, std::int32_t* scratch, const std::uint64_t* scratch_offset, std::uint32_t* folded_fixed,
                            std::uint32_t* folded_adapting) {
  const std::uint64_t i = std::uint64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i >= 2ull * stream_count) return;
  const auto s = static_cast<std::uint32_t>(i / 2);
  const int variant = static_cast<int>(i % 2);
  f::BatchStream& stream = streams[s];
  if (variant == 1 && stream.lms_step == 0) {
    stream.folded_sum[1] = 0;
    return;
  }
  if (f::batch_mo_in_parts(stream, network)) return;  // mo_fixed_kernel's and mo_adapting_lanes_kernel's
  std::int32_t* own_scratch = scratch + scratch_offset[s] + static_cast<std::uint64_t>(variant) * f::batch_scratch_size(stream);
  stream.folded_sum[variant] =
      f::batch_predict_stream(stream, variant, streams, codes, weights, network, own_scratch, variant == 1 ? folded_adapting : folded_fixed);
}

__global__ void choose_adapt_kernel(f::BatchStream* streams, std::uint32_t stream_count) {
  const std::uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
  if (s < stream_count) streams[s].adapt = f::batch_choose_adapt(streams[s]);
}

// Stage 0 (Golomb codecs): a block per stream, its threads over the stream's partitions.
__global__ void golomb_partitions_kernel(const f::BatchStream* streams, std::uint32_t stream_count, f::BatchPartition* partitions) {
  for (std::uint32_t s = blockIdx.x; s < stream_count; s += gridDim.x)
    for (std::uint32_t k = threadIdx.x; k < streams[s].partitions; k += blockDim.x)
      partitions[streams[s].first_partition + k] = f::batch_golomb_partition(s, streams[s], k);
}

// Stage 4 (batch_choose_index) with a warp per partition: golomb_index_for_partition's search,
// each sum taken across the lanes (golomb_partition_bits_strided, exact), so that a load reads
// 128 consecutive bytes for the warp instead of one line per thread.
__global__ void choose_index_kernel(f::BatchPartition* partitions, std::uint32_t partition_count, const f::BatchStream* streams,
                                    const std::uint32_t* folded_fixed, const std::uint32_t* folded_adapting) {
  const std::uint64_t p = (std::uint64_t{blockIdx.x} * blockDim.x + threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (p >= partition_count) return;  // whole warps leave together
  f::BatchPartition& partition = partitions[p];
  const std::uint32_t* residuals = f::batch_chosen_residuals(streams[partition.stream], folded_fixed, folded_adapting) + partition.start;
  const int count = static_cast<int>(partition.count);
  unsigned long long sum = 0;
  for (int i = lane; i < count; i += 32) sum += residuals[i];
  for (int d = 16; d > 0; d >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, d);
  const auto bits = [&](int index) {
    return std::uint64_t{__reduce_add_sync(0xffffffffu, f::golomb_partition_bits_strided(residuals, count, index, lane, 32))};
  };
  const int index = f::walk_to_cheapest(f::golomb_start_index(sum, count), f::kMaxGolombIndex, bits);
  const std::uint64_t codeword_bits = bits(index);
  if (lane == 0) {
    partition.index = static_cast<std::uint32_t>(index);
    partition.codeword_bits = codeword_bits;
  }
}

// The stream layout of either coder (golomb_batch.hpp stage 5, mt_batch.hpp stage 6).
__global__ void lay_out_kernel(f::BatchStream* streams, std::uint32_t stream_count, f::BatchPartition* partitions,
                               std::uint64_t* stream_words, bool table_coded) {
  const std::uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
  if (s >= stream_count) return;
  if (table_coded)
    f::batch_mt_lay_out_stream(streams[s], partitions);
  else
    f::batch_lay_out_stream(streams[s], partitions);
  stream_words[s] = streams[s].words;
}

__global__ void apply_offsets_kernel(f::BatchStream* streams, std::uint32_t stream_count, const std::uint64_t* offsets,
                                     std::uint64_t* total_words) {
  const std::uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
  if (s >= stream_count) return;
  streams[s].word_offset = offsets[s];
  if (s + 1 == stream_count) *total_words = offsets[s] + streams[s].words;
}

__global__ void head_kernel(const f::BatchStream* streams, std::uint32_t stream_count, const std::int32_t* codes, std::uint32_t* words) {
  const std::uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
  if (s < stream_count) f::batch_write_stream_head(streams[s], codes, words);
}

// Warp-parallel packing: a warp per partition; each lane sizes its run of codewords, a warp
// shuffle scan gives every lane its bit offset, and lanes write disjoint bits.
__global__ void pack_kernel(const f::BatchStream* streams, const f::BatchPartition* partitions, std::uint32_t partition_count,
                            const std::uint32_t* folded_fixed, const std::uint32_t* folded_adapting, std::uint32_t* words) {
  const std::uint64_t warp = (std::uint64_t{blockIdx.x} * blockDim.x + threadIdx.x) / f::kBatchLanes;
  const int lane = static_cast<int>(threadIdx.x % f::kBatchLanes);
  if (warp >= partition_count) return;  // uniform across the warp
  const f::BatchPartition& p = partitions[warp];
  const f::BatchStream& s = streams[p.stream];
  const std::uint32_t* residuals = f::batch_chosen_residuals(s, folded_fixed, folded_adapting);
  const std::uint64_t bits = f::batch_lane_bits(p, lane, residuals);
  std::uint64_t inclusive = bits;
  for (int d = 1; d < f::kBatchLanes; d <<= 1) {
    const std::uint64_t v = __shfl_up_sync(0xffffffffu, inclusive, d);
    if (lane >= d) inclusive += v;
  }
  const auto in_stream = static_cast<std::uint32_t>(warp - s.first_partition);
  const int previous = in_stream == 0 ? 0 : static_cast<int>(partitions[warp - 1].index);
  f::batch_write_lane(p, in_stream, previous, s, lane, inclusive - bits, residuals, words);
}

// ---- mt (mt_batch.hpp stages 4-8) ----------------------------------------------------------

// Sequential in time: one thread per stream.
__global__ void mt_classes_kernel(const f::BatchStream* streams, std::uint32_t stream_count, const std::uint32_t* fixed,
                                  const std::uint32_t* adapting, int scale_rate, std::uint8_t* classes) {
  const std::uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
  if (s < stream_count) f::batch_mt_classes(streams[s], fixed, adapting, scale_rate, classes);
}

// Each residual's head (stage 5a), a block per stream over time: the table lookups, in parallel,
// so that the sequential segment pass below has none.
__global__ void mt_heads_kernel(const f::BatchStream* streams, std::uint32_t stream_count, const f::MtTableSet tables, const std::int32_t* codes,
                                std::uint32_t* fixed, std::uint32_t* adapting, const std::uint8_t* classes) {
  for (std::uint32_t s = blockIdx.x; s < stream_count; s += gridDim.x)
    for (std::uint32_t t = 1 + threadIdx.x; t < streams[s].n; t += blockDim.x)
      f::batch_mt_head(streams[s], t, tables, codes, fixed, adapting, classes);
}

// One thread per segment (an rANS run is sequential).
__global__ void mt_encode_kernel(f::BatchPartition* partitions, std::uint32_t partition_count, const f::BatchStream* streams,
                                 const f::MtTableSet tables, const std::int32_t* codes, std::uint32_t* fixed, std::uint32_t* adapting,
                                 const std::uint8_t* classes, std::uint8_t* staging) {
  const std::uint32_t p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= partition_count) return;
  const f::BatchStream& s = streams[partitions[p].stream];
  f::batch_mt_encode_segment(partitions[p], p - s.first_partition, s, tables, codes, fixed, adapting, classes, staging);
}

__global__ void mt_directory_kernel(const f::BatchStream* streams, std::uint32_t stream_count, const f::BatchPartition* partitions,
                                    std::uint32_t* words) {
  const std::uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
  if (s < stream_count) f::batch_mt_write_directory(streams[s], partitions, reinterpret_cast<std::uint8_t*>(words));
}

// A block per segment, its threads striding over the bytes.
__global__ void mt_copy_kernel(const f::BatchStream* streams, const f::BatchPartition* partitions, std::uint32_t partition_count,
                               const std::uint8_t* staging, std::uint32_t* words) {
  for (std::uint32_t p = blockIdx.x; p < partition_count; p += gridDim.x)
    f::batch_mt_copy_segment(partitions[p], streams[partitions[p].stream], staging, reinterpret_cast<std::uint8_t*>(words), threadIdx.x,
                             blockDim.x);
}

// Words an mt stream can take: its directory (a size field per segment) and each segment's bound.
// The context model's training counts (training_batch.hpp stage K) after stages 1-3: the codes'
// histogram with a block per stream over time, and each (stream, candidate rate)'s scale chain
// in a thread of its own; 64-bit atomics (counts add up the same in any order).
__global__ void count_codes_kernel(const f::BatchStream* streams, std::uint32_t stream_count, const std::uint8_t* counted, const std::int32_t* codes,
                                   unsigned long long* histogram) {
  for (std::uint32_t s = blockIdx.x; s < stream_count; s += gridDim.x) {
    if (!counted[s]) continue;
    for (std::uint32_t t = threadIdx.x; t < streams[s].n; t += blockDim.x) {
      std::size_t bin = 0;
      if (f::count_code_bin(codes[streams[s].sample_offset + t], bin)) atomicAdd(histogram + bin, 1ull);
    }
  }
}

__global__ void count_magnitudes_kernel(const f::BatchStream* streams, std::uint32_t stream_count, const std::uint8_t* counted,
                                        const std::uint32_t* folded_fixed, const std::uint32_t* folded_adapting, unsigned long long* histogram) {
  const std::uint64_t item = std::uint64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (item >= std::uint64_t{stream_count} * f::kCountRates) return;
  const auto s = static_cast<std::uint32_t>(item / f::kCountRates);
  const std::size_t rate = item % f::kCountRates;
  if (!counted[s]) return;
  const f::BatchStream& stream = streams[s];
  const auto* z = reinterpret_cast<const std::int32_t*>(f::batch_chosen_residuals(stream, folded_fixed, folded_adapting));
  std::int32_t scale = f::kCmScaleStart;
  for (std::uint32_t t = 1; t < stream.n; ++t) {
    atomicAdd(histogram + f::count_magnitude_slot(rate, scale, z[t]), 1ull);
    scale = f::cm_next_scale(scale, z[t], f::count_scale_rate(rate));
  }
}

// Samples into the pinned staging buffer on every core (one thread's memcpy runs at a few GB/s,
// far below what PCIe takes), in pieces of at least 4 MiB.
void copy_in_parallel(std::int16_t* to, std::span<const std::int16_t> from) {
  constexpr std::size_t kPiece = std::size_t{2} << 20;  // samples
  const std::size_t pieces = (from.size() + kPiece - 1) / kPiece;
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  host::parallel_for(pieces, threads, [&](std::size_t i) {
    const std::size_t first = i * kPiece, count = std::min(kPiece, from.size() - first);
    std::memcpy(to + first, from.data() + first, count * sizeof(std::int16_t));
  });
}

// Page-locked blocks for the batches' samples and words (host::HostMemoryPool): the slots upload
// from and download into them directly. Where page-locking fails (a limit on locked memory), a
// heap block instead: copies from and into it are still correct, only synchronous.
class PinnedMemoryPool final : public host::HostMemoryPool {
 public:
  ~PinnedMemoryPool() override { release_kept(); }

 private:
  void* make_block(std::size_t bytes) override {
    void* block = nullptr;
    if (cudaHostAlloc(&block, bytes, cudaHostAllocDefault) == cudaSuccess) return block;
    cudaGetLastError();  // not sticky: clear it
    block = ::operator new(bytes, std::align_val_t{64});
    const std::lock_guard lock(mutex_);
    pageable_.insert(block);
    return block;
  }
  void free_block(void* block, std::size_t) noexcept override {
    {
      const std::lock_guard lock(mutex_);
      if (pageable_.erase(block) != 0) {
        ::operator delete(block, std::align_val_t{64});
        return;
      }
    }
    cudaFreeHost(block);
  }
  std::mutex mutex_;
  std::set<void*> pageable_;
};

std::uint64_t mt_word_bound(const f::BatchStream& s, const f::BatchPartition* partitions) {
  std::uint64_t bytes = std::uint64_t{s.partitions} * f::kMtMaxSegmentSizeBytes;
  for (std::uint32_t i = 0; i < s.partitions; ++i) bytes += f::mt_max_segment_bytes(partitions[s.first_partition + i].count);
  return (bytes + 3) / 4;
}

std::uint64_t word_bound(const f::BatchStream& s) {
  const std::uint64_t bits = f::kGolombWarmupBits + 1 + std::uint64_t{s.partitions} * (f::kGolombDeltaEscape + f::kGolombIndexBits) +
                             std::uint64_t{s.n - 1} * f::kMaxRiceCodewordBits;
  return (bits + 31) / 32;
}

}  // namespace

struct BatchEncoder::Slot {
  cudaStream_t stream = nullptr;
  cudaEvent_t started = nullptr, finished = nullptr;
  cudaEvent_t stage_done[kStageCount] = {};
  DeviceBuffer<std::int16_t> samples, diffs, planes;
  DeviceBuffer<std::int32_t> codes, scratch, weights;
  DeviceBuffer<std::uint32_t> folded_fixed, folded_adapting, words;
  DeviceBuffer<std::uint64_t> scratch_offset, stream_words, word_offsets, total_words;
  DeviceBuffer<f::BatchStream> streams;
  DeviceBuffer<f::BatchPartition> partitions;
  DeviceBuffer<f::MoNetwork> network;
  DeviceBuffer<int> inexact;
  // mt: classes, staging, and the model's tables (uploaded again only for another model).
  DeviceBuffer<std::uint8_t> classes, staging, table_index;
  DeviceBuffer<std::uint32_t> table_cum;
  DeviceBuffer<std::uint64_t> table_normaliser;
  DeviceBuffer<std::uint16_t> table_shapes, table_prior;
  std::shared_ptr<const void> tables_uploaded;
  f::MtTableSet device_tables;
  DeviceBuffer<std::uint8_t> scan_temp;
  DeviceBuffer<std::uint8_t> counted;  // context counts: the streams counted
  DeviceBuffer<unsigned long long> count_codes, count_magnitudes;
  PinnedBuffer<std::int16_t> staged_samples;  // samples from outside the pool, copied in first
  PinnedBuffer<std::uint64_t> staged_total;
  PinnedBuffer<int> staged_inexact;

  Slot() {
    SPIKEY_CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    SPIKEY_CUDA_TRY(cudaEventCreate(&started));
    SPIKEY_CUDA_TRY(cudaEventCreate(&finished));
    for (auto& e : stage_done) SPIKEY_CUDA_TRY(cudaEventCreate(&e));
  }
  ~Slot() {
    for (auto& e : stage_done) cudaEventDestroy(e);
    cudaEventDestroy(started);
    cudaEventDestroy(finished);
    cudaStreamDestroy(stream);
  }

  // Everything up to the total word count, queued on this slot's stream; with `predict_only`,
  // stages 1-3 (the value maps, both predictions, the adapt flag) and nothing after them.
  // `pinned_in`: the samples lie in page-locked memory (the pool's), uploaded from where they
  // are; the caller keeps them until the slot is waited for.
  void launch(host::BatchPlan& plan, std::span<const std::int16_t> samples_in, bool pinned_in, bool predict_only = false) {
    const auto stream_count = static_cast<std::uint32_t>(plan.streams.size());
    const auto partition_count = static_cast<std::uint32_t>(plan.partition_count());
    const AdaptingForm form = host::adapting_form_from_environment();
    std::vector<std::uint64_t> offsets(stream_count);
    std::uint64_t scratch_total = 0, word_total = 0;
    for (std::uint32_t s = 0; s < stream_count; ++s) {
      offsets[s] = scratch_total;
      if (plan.codec != f::BatchCodec::kLpc && !f::batch_mo_in_parts(plan.streams[s], plan.network.empty() ? nullptr : plan.network.data()))
        scratch_total += 2 * f::batch_scratch_size(plan.streams[s]);  // GRU streams only: the others read the batch's input planes
      word_total += plan.codec == f::BatchCodec::kMt ? mt_word_bound(plan.streams[s], plan.partitions.data()) : word_bound(plan.streams[s]);
    }
    word_capacity = word_total + f::BitWriter::kSlackWords;

    const host::Stopwatch staging_in;
    const std::int16_t* host_samples = samples_in.data();
    if (!pinned_in) {
      std::int16_t* staged = staged_samples.reserve(samples_in.size());
      copy_in_parallel(staged, samples_in);
      host_samples = staged;
    }
    stage_in_seconds = staging_in.seconds();
    SPIKEY_CUDA_TRY(cudaMemcpyAsync(samples.reserve(samples_in.size()), host_samples, samples_in.size() * sizeof(std::int16_t),
                                    cudaMemcpyHostToDevice, stream));
    SPIKEY_CUDA_TRY(cudaMemcpyAsync(streams.reserve(stream_count), plan.streams.data(), stream_count * sizeof(f::BatchStream),
                                    cudaMemcpyHostToDevice, stream));
    partitions.reserve(partition_count);
    if (plan.codec == f::BatchCodec::kMt) {
      SPIKEY_CUDA_TRY(cudaMemcpyAsync(partitions.get(), plan.partitions.data(), partition_count * sizeof(f::BatchPartition),
                                      cudaMemcpyHostToDevice, stream));
    } else if (partition_count > 0 && !predict_only) {  // laid out here from the streams (stage 0), not uploaded
      golomb_partitions_kernel<<<std::max(1u, std::min(stream_count, 65535u)), kBlock, 0, stream>>>(streams.get(), stream_count, partitions.get());
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
    }
    SPIKEY_CUDA_TRY(cudaMemcpyAsync(weights.reserve(plan.weights.size()), plan.weights.data(), plan.weights.size() * sizeof(std::int32_t),
                                    cudaMemcpyHostToDevice, stream));
    const f::MoNetwork* network_on_device = nullptr;
    if (!plan.network.empty()) {
      SPIKEY_CUDA_TRY(cudaMemcpyAsync(network.reserve(1), plan.network.data(), sizeof(f::MoNetwork), cudaMemcpyHostToDevice, stream));
      network_on_device = network.get();
    }
    SPIKEY_CUDA_TRY(cudaMemcpyAsync(scratch_offset.reserve(stream_count), offsets.data(), stream_count * sizeof(std::uint64_t),
                                    cudaMemcpyHostToDevice, stream));
    codes.reserve(plan.samples);
    folded_fixed.reserve(plan.samples);
    folded_adapting.reserve(plan.samples);
    scratch.reserve(scratch_total);
    stream_words.reserve(stream_count);
    word_offsets.reserve(stream_count);
    total_words.reserve(1);
    words.reserve(word_capacity);
    SPIKEY_CUDA_TRY(cudaMemsetAsync(inexact.reserve(1), 0, sizeof(int), stream));
    SPIKEY_CUDA_TRY(cudaMemsetAsync(total_words.get(), 0, sizeof(std::uint64_t), stream));  // a slice without streams packs nothing
    SPIKEY_CUDA_TRY(cudaMemsetAsync(words.get(), 0, word_capacity * sizeof(std::uint32_t), stream));
    const bool mt = plan.codec == f::BatchCodec::kMt;
    if (mt && !predict_only) upload_tables(plan);  // a predicting plan has no tables

    SPIKEY_CUDA_TRY(cudaEventRecord(started, stream));
    map_kernel<<<std::max(1u, std::min(stream_count, 65535u)), kBlock, 0, stream>>>(streams.get(), stream_count, samples.get(), codes.get(),
                                                                                     inexact.get());
    SPIKEY_CUDA_CHECK_LAUNCH(stream);
    SPIKEY_CUDA_TRY(cudaEventRecord(stage_done[0], stream));
    if (plan.codec == f::BatchCodec::kLpc) {
      const unsigned per_stream = std::max(1u, std::min(stream_count, 65535u));
      clamped_difference_kernel<<<per_stream, kBlock, 0, stream>>>(streams.get(), stream_count, codes.get(), diffs.reserve(plan.samples));
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
      lpc_fixed_kernel<<<per_stream, kBlock, 0, stream>>>(streams.get(), stream_count, codes.get(), diffs.get(), weights.get(), folded_fixed.get());
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
      if (form == AdaptingForm::thread)
        lpc_adapting_kernel<<<sequential_blocks_for(stream_count), kSequentialBlock, 0, stream>>>(streams.get(), stream_count, codes.get(),
                                                                                                  diffs.get(), weights.get(), folded_adapting.get());
      else if (form == AdaptingForm::half_warp)
        lpc_adapting_lanes_kernel<f::kBatchLanes / 2><<<blocks_for(std::uint64_t{f::kBatchLanes / 2} * stream_count), kBlock, 0, stream>>>(
            streams.get(), stream_count, codes.get(), diffs.get(), weights.get(), folded_adapting.get());
      else
        lpc_adapting_lanes_kernel<f::kBatchLanes><<<blocks_for(std::uint64_t{f::kBatchLanes} * stream_count), kBlock, 0, stream>>>(
            streams.get(), stream_count, codes.get(), diffs.get(), weights.get(), folded_adapting.get());
    } else {
      int levels = 0;
      for (const auto& s : plan.streams) levels = std::max(levels, s.wavelet_levels);
      const unsigned per_stream = std::max(1u, std::min(stream_count, 65535u));
      clamped_difference_kernel<<<per_stream, kBlock, 0, stream>>>(streams.get(), stream_count, codes.get(), diffs.reserve(plan.samples));
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
      std::int16_t* level_planes = planes.reserve(std::max<std::uint64_t>(1, static_cast<std::uint64_t>(2 * levels) * plan.samples));
      for (int l = 1; l <= levels; ++l) {
        wavelet_level_kernel<<<per_stream, kBlock, 0, stream>>>(streams.get(), stream_count, l, diffs.get(), level_planes, plan.samples);
        SPIKEY_CUDA_CHECK_LAUNCH(stream);
      }
      mo_fixed_kernel<<<per_stream, kBlock, 0, stream>>>(streams.get(), stream_count, codes.get(), diffs.get(), level_planes, plan.samples,
                                                         weights.get(), network_on_device, folded_fixed.get());
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
      if (form == AdaptingForm::half_warp)  // thread is lpc1's alone: the MiddleOut codecs keep the warp form
        mo_adapting_lanes_kernel<f::kBatchLanes / 2><<<blocks_for(std::uint64_t{f::kBatchLanes / 2} * stream_count), kBlock, 0, stream>>>(
            streams.get(), stream_count, codes.get(), diffs.get(), level_planes, plan.samples, weights.get(), network_on_device,
            folded_adapting.get());
      else
        mo_adapting_lanes_kernel<f::kBatchLanes><<<blocks_for(std::uint64_t{f::kBatchLanes} * stream_count), kBlock, 0, stream>>>(
            streams.get(), stream_count, codes.get(), diffs.get(), level_planes, plan.samples, weights.get(), network_on_device,
            folded_adapting.get());
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
      fold_kernel<<<sequential_blocks_for(2ull * stream_count), kSequentialBlock, 0, stream>>>(
          streams.get(), stream_count, codes.get(), weights.get(), network_on_device, scratch.get(), scratch_offset.get(), folded_fixed.get(),
          folded_adapting.get());
    }
    SPIKEY_CUDA_CHECK_LAUNCH(stream);
    SPIKEY_CUDA_TRY(cudaEventRecord(stage_done[1], stream));
    choose_adapt_kernel<<<blocks_for(stream_count), kBlock, 0, stream>>>(streams.get(), stream_count);
    SPIKEY_CUDA_CHECK_LAUNCH(stream);
    if (predict_only) {
      SPIKEY_CUDA_TRY(cudaMemcpyAsync(staged_inexact.reserve(1), inexact.get(), sizeof(int), cudaMemcpyDeviceToHost, stream));
      result_plan = &plan;
      return;
    }
    if (mt) {
      mt_classes_kernel<<<sequential_blocks_for(stream_count), kSequentialBlock, 0, stream>>>(
          streams.get(), stream_count, folded_fixed.get(), folded_adapting.get(), plan.mt_tables.scale_rate, classes.reserve(plan.samples));
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
      mt_heads_kernel<<<std::max(1u, std::min(stream_count, 65535u)), kBlock, 0, stream>>>(streams.get(), stream_count, device_tables, codes.get(),
                                                                                           folded_fixed.get(), folded_adapting.get(), classes.get());
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
      if (partition_count > 0) {
        mt_encode_kernel<<<sequential_blocks_for(partition_count), kSequentialBlock, 0, stream>>>(
            partitions.get(), partition_count, streams.get(), device_tables, codes.get(), folded_fixed.get(), folded_adapting.get(), classes.get(),
            staging.reserve(plan.staging_bytes));
        SPIKEY_CUDA_CHECK_LAUNCH(stream);
      }
    } else if (partition_count > 0) {
      choose_index_kernel<<<blocks_for(std::uint64_t{partition_count} * 32), kBlock, 0, stream>>>(partitions.get(), partition_count, streams.get(),
                                                                                                  folded_fixed.get(), folded_adapting.get());
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
    }
    lay_out_kernel<<<sequential_blocks_for(stream_count), kSequentialBlock, 0, stream>>>(streams.get(), stream_count, partitions.get(),
                                                                                        stream_words.get(), mt);
    SPIKEY_CUDA_CHECK_LAUNCH(stream);
    SPIKEY_CUDA_TRY(cudaEventRecord(stage_done[2], stream));
    std::size_t temp_bytes = 0;
    SPIKEY_CUDA_TRY(cub::DeviceScan::ExclusiveSum(nullptr, temp_bytes, stream_words.get(), word_offsets.get(), stream_count, stream));
    SPIKEY_CUDA_TRY(cub::DeviceScan::ExclusiveSum(scan_temp.reserve(temp_bytes), temp_bytes, stream_words.get(), word_offsets.get(),
                                                  stream_count, stream));
    apply_offsets_kernel<<<blocks_for(stream_count), kBlock, 0, stream>>>(streams.get(), stream_count, word_offsets.get(), total_words.get());
    SPIKEY_CUDA_CHECK_LAUNCH(stream);
    SPIKEY_CUDA_TRY(cudaEventRecord(stage_done[3], stream));
    if (mt)
      mt_directory_kernel<<<blocks_for(stream_count), kBlock, 0, stream>>>(streams.get(), stream_count, partitions.get(), words.get());
    else
      head_kernel<<<blocks_for(stream_count), kBlock, 0, stream>>>(streams.get(), stream_count, codes.get(), words.get());
    SPIKEY_CUDA_CHECK_LAUNCH(stream);
    SPIKEY_CUDA_TRY(cudaEventRecord(stage_done[4], stream));
    if (mt && partition_count > 0) {
      mt_copy_kernel<<<std::min(partition_count, 65535u), kBlock, 0, stream>>>(streams.get(), partitions.get(), partition_count, staging.get(),
                                                                               words.get());
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
    } else if (partition_count > 0) {
      pack_kernel<<<blocks_for(std::uint64_t{partition_count} * f::kBatchLanes), kBlock, 0, stream>>>(
          streams.get(), partitions.get(), partition_count, folded_fixed.get(), folded_adapting.get(), words.get());
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
    }
    SPIKEY_CUDA_TRY(cudaEventRecord(stage_done[5], stream));
    SPIKEY_CUDA_TRY(cudaEventRecord(finished, stream));

    SPIKEY_CUDA_TRY(cudaMemcpyAsync(staged_total.reserve(1), total_words.get(), sizeof(std::uint64_t), cudaMemcpyDeviceToHost, stream));
    SPIKEY_CUDA_TRY(cudaMemcpyAsync(staged_inexact.reserve(1), inexact.get(), sizeof(int), cudaMemcpyDeviceToHost, stream));
    result_plan = &plan;
  }

  // The model's tables into device memory, once per model (the plan's owner keeps them alive, and
  // so comparable by address), and their device view.
  void upload_tables(const host::BatchPlan& plan) {
    if (tables_uploaded == plan.mt_tables_owner) return;
    const f::MtTableSet& host_tables = plan.mt_tables;
    const auto upload = [&](auto& buffer, const auto* data, std::uint64_t count) {
      SPIKEY_CUDA_TRY(cudaMemcpyAsync(buffer.reserve(count), data, count * sizeof(*data), cudaMemcpyHostToDevice, stream));
      return buffer.get();
    };
    device_tables = host_tables;
    device_tables.cum = upload(table_cum, host_tables.cum, f::MtTableSet::kCumEntries);
    device_tables.index = upload(table_index, host_tables.index, f::MtTableSet::kIndexEntries);
    device_tables.normaliser = upload(table_normaliser, host_tables.normaliser, f::MtTableSet::kSlots);
    device_tables.shapes = upload(table_shapes, host_tables.shapes, f::MtTableSet::kShapeEntries);
    device_tables.prior = upload(table_prior, host_tables.prior, host_tables.prior_entries());
    // Pageable sources: the copies are done when cudaMemcpyAsync returns, so the host tables may go.
    tables_uploaded = plan.mt_tables_owner;
  }

  // Waits for the slot's kernels, takes the per-stream results and the number of words written.
  // The per-partition results stay here: nothing on the host reads them, and lpc1's are 64 bytes
  // per 256 samples.
  void take_results(BatchTiming& timing) {
    const host::Stopwatch taking;
    double wait = 0;
    take_streams(&wait);
    timing.host_seconds[kHostPartWait] += wait;
    timing.host_seconds[kHostPartStreamResults] += taking.seconds() - wait;
    total = *staged_total.get();
    if (total > word_capacity) throw std::logic_error("CUDA encoder: packed words exceed their bound");
  }

  // Queues the download of exactly the words written (take_results) to `to`: the caller's
  // page-locked buffer, so the copy runs as DMA and finish() waits for it.
  void download_words(std::uint32_t* to) {
    if (total > 0) SPIKEY_CUDA_TRY(cudaMemcpyAsync(to, words.get(), total * sizeof(std::uint32_t), cudaMemcpyDeviceToHost, stream));
  }

  // Waits for the slot's kernels (adding the wait to *wait_seconds), checks the value maps and
  // takes the per-stream results.
  void take_streams(double* wait_seconds = nullptr) {
    const host::Stopwatch waiting;
    SPIKEY_CUDA_TRY(cudaStreamSynchronize(stream));
    if (wait_seconds != nullptr) *wait_seconds += waiting.seconds();
    if (*staged_inexact.get() != 0) throw std::logic_error("a value map is not exact for its channel (CUDA encoder)");
    host::BatchPlan& plan = *result_plan;
    SPIKEY_CUDA_TRY(cudaMemcpy(plan.streams.data(), streams.get(), plan.streams.size() * sizeof(f::BatchStream), cudaMemcpyDeviceToHost));
  }

  // Stages 1-3, then the context model's counts of the streams marked in counts.counted, into
  // counts' histograms (waits for them); the streams' results as take_streams.
  void run_counts(host::BatchPlan& plan, std::span<const std::int16_t> samples_in, bool pinned_in, host::ContextCounts& counts) {
    const auto stream_count = static_cast<std::uint32_t>(plan.streams.size());
    launch(plan, samples_in, pinned_in, true);
    static_assert(sizeof(char) == sizeof(std::uint8_t));
    SPIKEY_CUDA_TRY(cudaMemcpyAsync(counted.reserve(stream_count), counts.counted.data(), stream_count, cudaMemcpyHostToDevice, stream));
    SPIKEY_CUDA_TRY(cudaMemsetAsync(count_codes.reserve(f::kCountCodeBins), 0, f::kCountCodeBins * sizeof(unsigned long long), stream));
    SPIKEY_CUDA_TRY(
        cudaMemsetAsync(count_magnitudes.reserve(f::kCountMagnitudeSlots), 0, f::kCountMagnitudeSlots * sizeof(unsigned long long), stream));
    if (stream_count > 0) {
      count_codes_kernel<<<std::min(stream_count, 65535u), kBlock, 0, stream>>>(streams.get(), stream_count, counted.get(), codes.get(),
                                                                                count_codes.get());
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
      count_magnitudes_kernel<<<sequential_blocks_for(std::uint64_t{stream_count} * f::kCountRates), kSequentialBlock, 0, stream>>>(
          streams.get(), stream_count, counted.get(), folded_fixed.get(), folded_adapting.get(), count_magnitudes.get());
      SPIKEY_CUDA_CHECK_LAUNCH(stream);
    }
    take_streams();
    counts.codes.assign(f::kCountCodeBins, 0);
    counts.magnitudes.assign(f::kCountMagnitudeSlots, 0);
    static_assert(sizeof(unsigned long long) == sizeof(std::uint64_t));
    SPIKEY_CUDA_TRY(cudaMemcpy(counts.codes.data(), count_codes.get(), f::kCountCodeBins * sizeof(std::uint64_t), cudaMemcpyDeviceToHost));
    SPIKEY_CUDA_TRY(
        cudaMemcpy(counts.magnitudes.data(), count_magnitudes.get(), f::kCountMagnitudeSlots * sizeof(std::uint64_t), cudaMemcpyDeviceToHost));
  }

  // Waits for the words' download; adds the slot's kernel and stage times.
  void finish(BatchTiming& timing) {
    SPIKEY_CUDA_TRY(cudaStreamSynchronize(stream));
    float ms = 0;
    SPIKEY_CUDA_TRY(cudaEventElapsedTime(&ms, started, finished));
    timing.kernel_seconds += ms / 1e3;
    cudaEvent_t previous = started;
    for (int i = 0; i < kStageCount; ++i) {
      SPIKEY_CUDA_TRY(cudaEventElapsedTime(&ms, previous, stage_done[i]));
      timing.stage_seconds[i] += ms / 1e3;
      previous = stage_done[i];
    }
  }

  // Waits for whatever is queued on the slot, ignoring its errors (the first one is already
  // being reported); clears the sticky error state where the runtime allows.
  void drain() noexcept {
    cudaStreamSynchronize(stream);
    cudaGetLastError();
  }

  std::uint64_t word_capacity = 0;
  std::uint64_t total = 0;
  host::BatchPlan* result_plan = nullptr;
  double stage_in_seconds = 0;  // the last launch's copy into staged_samples
};

BatchEncoder::BatchEncoder() {
  if (device_count() == 0) throw std::runtime_error("no CUDA device is available");
  SPIKEY_CUDA_TRY(cudaSetDevice(0));
  for (int i = 0; i < 2; ++i) slots_.push_back(std::make_unique<Slot>());
  memory_ = std::make_shared<PinnedMemoryPool>();
}

bool BatchEncoder::in_pool(std::span<const std::int16_t> samples) const {
  return !samples.empty() && memory_->owns(samples.data(), samples.size_bytes());
}

BatchEncoder::~BatchEncoder() = default;

host::BatchWords BatchEncoder::encode(host::BatchPlan& plan, std::span<const std::int16_t> samples) {
  const host::Stopwatch whole;
  timing_ = {};
  timing_.input_bytes = samples.size() * sizeof(std::int16_t);
  double* part = timing_.host_seconds;
  // Two slices of whole chunks, one per slot: one slice's copies overlap the other's kernels.
  host::Stopwatch step;
  const std::size_t chunks = plan.chunk_count();
  const std::size_t cut = chunks >= 2 ? chunks / 2 : chunks;
  std::vector<host::BatchPlan> slices;
  slices.push_back(host::slice_plan(plan, 0, cut));
  if (cut < chunks) slices.push_back(host::slice_plan(plan, cut, chunks));
  part[kHostPartSlice] = step.lap();
  const bool pinned_in = in_pool(samples);
  // The slices' words one after another in one page-locked buffer from the pool, downloaded
  // straight into place: the payloads are assembled from it (no copy on the host).
  host::BatchWords merged{host::PoolAllocator<std::uint32_t>(memory_)};
  std::vector<std::uint64_t> word_base(slices.size() + 1, 0);
  try {
    for (std::size_t k = 0; k < slices.size(); ++k) {
      const std::uint64_t offset = plan.chunk_sample_offset[k == 0 ? 0 : cut];
      slots_[k]->launch(slices[k], samples.subspan(offset, slices[k].samples), pinned_in);
      part[kHostPartStageIn] += slots_[k]->stage_in_seconds;
      part[kHostPartQueue] += step.lap() - slots_[k]->stage_in_seconds;
    }
    for (std::size_t k = 0; k < slices.size(); ++k) {
      slots_[k]->take_results(timing_);  // times its own parts
      word_base[k + 1] = word_base[k] + slots_[k]->total;
    }
    step.lap();
    merged.resize(word_base.back());
    for (std::size_t k = 0; k < slices.size(); ++k) slots_[k]->download_words(merged.data() + word_base[k]);
    for (std::size_t k = 0; k < slices.size(); ++k) slots_[k]->finish(timing_);
    part[kHostPartWords] = step.lap();
  } catch (...) {
    // Work queued on the other slot still reads and writes that slot's buffers (and the
    // caller's plan and the words); let it drain before the error leaves, so nothing outlives
    // what it uses.
    for (auto& slot : slots_) slot->drain();
    throw;
  }
  host::merge_slice_results(plan, slices, word_base);
  part[kHostPartMerge] = step.lap();
  timing_.output_bytes = merged.size() * sizeof(std::uint32_t);
  timing_.seconds = whole.seconds();
  return merged;
}

void BatchEncoder::count_context(host::BatchPlan& plan, std::span<const std::int16_t> samples, host::ContextCounts& counts) {
  if (counts.counted.size() != plan.streams.size()) throw std::invalid_argument("context counts: one mark per stream expected");
  try {
    slots_[0]->run_counts(plan, samples, in_pool(samples), counts);
  } catch (...) {
    for (auto& slot : slots_) slot->drain();
    throw;
  }
}

void BatchEncoder::predict(host::BatchPlan& plan, std::span<const std::int16_t> samples) {
  try {
    slots_[0]->launch(plan, samples, in_pool(samples), true);
    slots_[0]->take_streams();
  } catch (...) {
    for (auto& slot : slots_) slot->drain();
    throw;
  }
}

}  // namespace spikey::cuda
