// Codecs lpc1, mo1, mo2 and mo3 (the codecs of lpc1's stream layout, lpc_stream.hpp) for many streams
// at once: the encoder's stages written as functions of one element each (a sample, a stream,
// a partition, a lane of a partition), so that a GPU runs every element in its own thread and
// a CPU executor runs the same functions in loops. The bytes equal those of the chunk-by-chunk
// encoder; tests check both executors against it. Only stage 2 (the prediction) differs
// between the codecs: lpc_fold_residuals or mo_fold_residuals (wavelet features, MiddleOut
// sources and the network stage), per BatchStream::codec.
//
// Stages, in order (arrays are batch-wide, indexed by BatchStream::sample_offset + t):
//   0 per partition  batch_golomb_partition  the partition's residuals, from its stream (a plan
//                    lists no Golomb partitions: lpc1 has one per 256 samples)
//   1 per sample     batch_map_sample        value -> code, and whether the map was exact
//   2 per stream x2  batch_predict_stream    folded residuals with fixed and with adapting weights
//                    (lpc1: 2a per sample, 2b per sample, 2c per stream, below)
//   3 per stream     batch_choose_adapt      the adapt flag (smaller sum of folded residuals)
//   4 per partition  batch_choose_index      the partition's Golomb index and codeword bits
//   5 per stream     batch_lay_out_stream    partition bit offsets, stream bits and words
//   6 all streams    exclusive prefix sum of words -> BatchStream::word_offset (CUB on the GPU)
//   7 per stream     batch_write_stream_head warm-up code and adapt flag
//   8 per partition, per lane of 32: batch_lane_bits, a warp scan of those, batch_write_lane
// Output words must be zero before stage 7: fields are OR-ed into place.
#pragma once

#include "spikey/format/codecs/common/golomb.hpp"
#include "spikey/format/hd.hpp"
#include "spikey/format/codecs/common/golomb_stream.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/codecs/mo/mo_predictor.hpp"
#include "spikey/format/value_map.hpp"

namespace spikey::format {

inline constexpr int kBatchLanes = 32;  // lanes per partition (a CUDA warp)

static_assert(kMaxMoSources == 4, "BatchStream::source_stream's initialiser");

// lpc1; mo1, mo2, mo3; mt1, mt2, mt3 (their stages after the prediction: mt_batch.hpp)
enum class BatchCodec : std::uint32_t { kLpc = 0, kMo = 1, kMt = 2 };

struct BatchStream {
  std::uint64_t sample_offset = 0;   // first sample/code/residual slot of this stream in the batch
  std::uint32_t n = 0;               // samples (>= 1)
  BatchCodec codec = BatchCodec::kLpc;
  // Streams of the source channels in the same chunk, or -1 where a source channel is absent
  // from the chunk (its inputs are then zero). lpc1: at most one, when source_half_window >= 0.
  std::int32_t source_stream[kMaxMoSources] = {-1, -1, -1, -1};
  std::int32_t source_count = 0;
  std::uint32_t first_partition = 0; // into the batch's partitions
  std::uint32_t partitions = 0;
  std::uint32_t weights_offset = 0;  // into the batch weight table: taps() stored weights
  std::int32_t order = 0;
  std::int32_t source_half_window = -1;  // lpc1: -1 without a source; mo: the codec's W
  std::int32_t wavelet_levels = 0;       // mo: L, 0 without wavelet features
  std::int32_t net_input_gain = 0;       // mo2: the channel's network gains (0: no network)
  std::int32_t net_output_gain = 0;
  std::int32_t lms_step = 0;
  std::uint32_t weight_shift = 12;
  std::uint32_t map_kind = 0;        // ValueMapKind
  std::int32_t map_step = 1;
  std::int32_t map_offset = 0;
  std::uint32_t partition_size = 0;  // residuals per partition (mt: per segment)
  // Filled by the stages:
  std::uint64_t folded_sum[2] = {0, 0};  // fixed, adapting (mt: sums of |z|)
  std::uint32_t adapt = 0;
  std::uint64_t bits = 0;
  std::uint32_t words = 0;
  std::uint64_t word_offset = 0;
  std::uint64_t bytes = 0;  // mt: the stream's bytes (it takes `words` words, its tail zero-padded)
};

struct BatchPartition {
  std::uint32_t stream = 0;
  std::uint32_t start = 0;  // first residual of the partition (residual t-1 codes time t)
  std::uint32_t count = 0;
  // Filled by the stages:
  std::uint32_t index = 0;
  std::uint64_t codeword_bits = 0;
  std::uint32_t field_bits = 0;
  std::uint64_t bit_offset = 0;  // within the stream
  // mt segments (a partition each):
  std::uint64_t staging_offset = 0;  // the segment's buffer of mt_max_segment_bytes(count) bytes in the batch's staging bytes
  std::uint32_t staged_from = 0;     // filled: where in that buffer the segment starts (it ends at the buffer's end)
  std::uint32_t bytes = 0;           // filled: the segment's bytes
  std::uint64_t byte_offset = 0;     // filled: within the stream
};

// Stage 0. A stream of n samples has n - 1 residuals, in partitions of partition_size (the
// last one shorter); partition k of the stream at `stream` in the batch.
SPIKEY_HD std::uint32_t batch_golomb_partition_count(std::uint32_t n, std::uint32_t partition_size) {
  return partition_count(n > 0 ? n - 1 : 0, partition_size);
}
SPIKEY_HD BatchPartition batch_golomb_partition(std::uint32_t stream, const BatchStream& s, std::uint32_t k) {
  BatchPartition p;
  p.stream = stream;
  p.start = k * s.partition_size;
  const std::uint32_t left = s.n - 1 - p.start;
  p.count = left < s.partition_size ? left : s.partition_size;
  return p;
}

SPIKEY_HD LpcModel batch_model(const BatchStream& s, bool adapting) {
  LpcModel m;
  m.order = s.order;
  m.source_half_window = s.source_half_window;
  m.weight_shift = static_cast<int>(s.weight_shift);
  m.lms_step = adapting ? s.lms_step : 0;
  return m;
}

SPIKEY_HD MoModel batch_mo_model(const BatchStream& s, bool adapting, const MoNetwork* network) {
  MoModel m;
  m.order = s.order;
  m.levels = s.wavelet_levels;
  m.sources = s.source_count;
  m.half_window = s.source_half_window;
  m.weight_shift = static_cast<int>(s.weight_shift);
  m.lms_step = adapting ? s.lms_step : 0;
  if (network != nullptr && s.net_output_gain != 0) {
    m.network = network;
    m.net_input_gain = s.net_input_gain;
    m.net_output_gain = s.net_output_gain;
  }
  return m;
}

// Scratch per (stream, variant). lpc1: history buffer, source buffer and a weights copy.
// mo: history, wavelet state, features, one source buffer per source and a weights copy.
SPIKEY_HD std::uint64_t batch_scratch_size(const BatchStream& s) {
  if (s.codec == BatchCodec::kLpc) return std::uint64_t{lpc_history_buffer_size(s.n)} + source_buffer_size(s.n) + kMaxLpcTaps;
  return std::uint64_t{mo_history_buffer_size(s.n)} + std::uint64_t(s.wavelet_levels) * wavelet_buffer_size(s.n) + kMoStateSize +
         std::uint64_t(s.source_count) * source_buffer_size(s.n) + kMaxMoTaps;
}

// Stage 1. Returns false when the stream's value map is not exact for this sample (the
// encoder must then stop: a survey bug can never lose data).
SPIKEY_HD bool batch_map_sample(const BatchStream& s, std::uint32_t t, const std::int16_t* samples, std::int32_t* codes) {
  ValueMap map;
  map.kind = static_cast<ValueMapKind>(s.map_kind);
  map.step = s.map_step;
  map.offset = s.map_offset;
  const std::int16_t v = samples[s.sample_offset + t];
  const std::int32_t code = value_to_code(map, v);
  codes[s.sample_offset + t] = code;
  return code_to_value(map, code) == v;
}

// A source buffer (fill_source_buffer) of source k of stream s: zeros when the source
// channel is absent from the chunk.
SPIKEY_HD void batch_fill_source(const BatchStream& s, int k, const BatchStream* streams, const std::int32_t* codes, std::int32_t* buffer) {
  if (s.source_stream[k] >= 0) {
    const BatchStream& src = streams[s.source_stream[k]];
    fill_source_buffer(codes + src.sample_offset, src.n, s.n, buffer);
  } else {
    for (std::uint32_t i = 0; i < source_buffer_size(s.n); ++i) buffer[i] = 0;
  }
}

// Stage 2, for variant 0 (fixed weights) or 1 (adapting). `scratch` holds batch_scratch_size(s)
// values for this (stream, variant); `network` is the recording's network (mo2) or null.
// lpc and mo: writes n-1 folded residuals at folded + sample_offset and returns their sum.
// mt: writes the signed residuals z[0] = 0, z[1..n-1] there (as int32) and returns the sum of
// |z| (mo_residual_cost), what the chunk encoder compares.
SPIKEY_HD std::uint64_t batch_predict_stream(const BatchStream& s, int variant, const BatchStream* streams, const std::int32_t* codes,
                                          const std::int32_t* weight_table, const MoNetwork* network, std::int32_t* scratch,
                                          std::uint32_t* folded) {
  std::uint32_t* out = folded + s.sample_offset;
  const std::int32_t* in = codes + s.sample_offset;
  if (s.codec == BatchCodec::kLpc) {
    std::int32_t* history = scratch;
    std::int32_t* source = history + lpc_history_buffer_size(s.n);
    std::int32_t* weights = source + source_buffer_size(s.n);
    const LpcModel model = batch_model(s, variant == 1);
    for (int i = 0; i < model.taps(); ++i) weights[i] = weight_table[s.weights_offset + static_cast<std::uint32_t>(i)];
    batch_fill_source(s, 0, streams, codes, source);
    lpc_fold_residuals(model, in, s.n, weights, history, source, out);
  } else {
    const MoModel model = batch_mo_model(s, variant == 1, network);
    std::int32_t* history = scratch;
    std::int32_t* wavelet = history + mo_history_buffer_size(s.n);
    std::int32_t* features = wavelet + std::uint64_t(model.levels) * wavelet_buffer_size(s.n);
    std::int32_t* next = features + kMoStateSize;
    const std::int32_t* sources[kMaxMoSources] = {};
    for (int k = 0; k < model.sources; ++k, next += source_buffer_size(s.n)) {
      batch_fill_source(s, k, streams, codes, next);
      sources[k] = next;
    }
    std::int32_t* weights = next;
    for (int i = 0; i < model.taps(); ++i) weights[i] = weight_table[s.weights_offset + static_cast<std::uint32_t>(i)];
    if (s.codec == BatchCodec::kMt) {
      auto* z = reinterpret_cast<std::int32_t*>(out);  // int32 and uint32 may alias
      z[0] = 0;
      mo_residuals(model, in, s.n, weights, history, wavelet, features, sources, z);
      return mo_residual_cost(z, s.n);
    }
    mo_fold_residuals(model, in, s.n, weights, history, wavelet, features, sources, out);
  }
  std::uint64_t sum = 0;
  for (std::uint32_t t = 0; t + 1 < s.n; ++t) sum += out[t];
  return sum;
}

// Stage 2 of lpc1 in parts that a GPU runs over time in parallel (batch_predict_stream's lpc
// path, lpc_fold_residuals, gives the same residuals but walks each stream in one thread with
// its buffers in scratch):
//   2a per sample   batch_clamped_difference   c[t] of every stream, int16, into one batch array
//   2b per sample   batch_lpc_fixed_residual   the fixed-weight variant at time t: its inputs
//                                              are all in that array, so every t is independent
//   2c per stream   batch_lpc_adapting_stream  the adapting variant, sequential in time, its
//                                              weights local (registers), no scratch
// The fixed variant's sum (stage 3's input) is batch_fixed_sum, an order-free integer sum.

// Stage 2a: c[t] = clamp(u[t] - u[t-1]) at diffs[sample_offset + t], c[0] = 0 (|c| <= 2047).
SPIKEY_HD void batch_clamped_difference(const BatchStream& s, std::uint32_t t, const std::int32_t* codes, std::int16_t* diffs) {
  const std::int32_t* u = codes + s.sample_offset;
  diffs[s.sample_offset + t] =
      t == 0 ? std::int16_t{0}
             : static_cast<std::int16_t>(clamp_history(static_cast<std::int32_t>(static_cast<std::uint32_t>(u[t]) - static_cast<std::uint32_t>(u[t - 1]))));
}

// Where an input of the prediction comes from: in[t + offset] when lo <= t + offset < hi, else 0.
// Every input of lpc1 and the MiddleOut codecs is such a window on one int16 array (the batch's
// differences, or a wavelet plane), so a stream's taps are resolved once and each step is then
// one unsigned compare and a load, with nothing to look up first: held as the window's start,
// its length and the shift from t to an index in it (t + offset - lo wraps to at least 2^31
// below the window, and a stream's n is far below that).
struct BatchTap {
  const std::int16_t* in = nullptr;  // in[lo]
  std::uint32_t shift = 0;           // offset - lo, modulo 2^32
  std::uint32_t span = 0;            // hi - lo; 0: the input is always 0 (an unused tap, an absent source)

  SPIKEY_HD std::int32_t at(std::uint32_t t) const {
    const std::uint32_t i = t + shift;
    return i < span ? in[i] : 0;
  }
};

SPIKEY_HD BatchTap batch_tap(const std::int16_t* in, std::int64_t offset, std::int64_t lo, std::int64_t hi) {
  if (lo >= hi) return BatchTap{};
  return BatchTap{in + lo, static_cast<std::uint32_t>(offset - lo), static_cast<std::uint32_t>(hi - lo)};
}

// c of a stream's channel at t + offset, inside 1 .. n-1 (its clamped differences, stage 2a).
SPIKEY_HD BatchTap batch_difference_tap(const BatchStream& stream, const std::int16_t* diffs, std::int64_t offset) {
  return batch_tap(diffs + stream.sample_offset, offset, 1, std::int64_t{stream.n});
}

// Tap i (< model.taps()) of lpc1 at time t >= 1: c[t-N .. t-1] (0 before t = 1), then the
// source's c_s[t-W .. t+W] (0 outside its 1 .. n_s - 1, and all 0 when the source is absent),
// as the history and source buffers of lpc_fold_residuals hold them.
SPIKEY_HD BatchTap batch_lpc_tap(const LpcModel& model, const BatchStream& s, const BatchStream* streams, const std::int16_t* diffs, int i) {
  if (i < model.order) return batch_difference_tap(s, diffs, i - model.order);
  if (s.source_stream[0] < 0) return BatchTap{};
  return batch_difference_tap(streams[s.source_stream[0]], diffs, (i - model.order) - model.source_half_window);
}

SPIKEY_HD std::int32_t batch_lpc_input(const LpcModel& model, const BatchStream& s, const BatchStream* streams, std::uint32_t t,
                                       const std::int16_t* diffs, int i) {
  return batch_lpc_tap(model, s, streams, diffs, i).at(t);
}

// The adapting variant with a stream's taps spread over `Lanes` lanes (stage 2c, the GPU's
// lane forms): a whole warp per stream (32 lanes) or half a warp (16 lanes, two streams a warp).
// Lane l holds taps l, l + Lanes, l + 2 Lanes, ... (BatchLane::kTaps of them); the accumulator
// is the sum of the lanes' partial sums (exact in int32, so in any order: the same acc as
// lpc_accumulate), and every lane then derives the same prediction and sign and adapts its own
// weights. The CPU executor runs the lanes in a loop; the GPU sums them with __reduce_add_sync.
inline constexpr int kMaxBatchTaps = kMaxLpcTaps > kMaxMoTaps ? kMaxLpcTaps : kMaxMoTaps;

template <int Lanes>
struct BatchLane {
  static_assert(Lanes == kBatchLanes || Lanes == kBatchLanes / 2, "a warp or half a warp per stream");
  static constexpr int kTaps = (kMaxBatchTaps + Lanes - 1) / Lanes;
  std::int32_t weight[kTaps] = {};
  std::int32_t input[kTaps] = {};
  BatchTap tap[kTaps];
};

// The lane's inputs at time t.
template <int Lanes>
SPIKEY_HD void batch_lane_inputs(const BatchLane<Lanes>& l, std::uint32_t t, std::int32_t* input) {
  for (int k = 0; k < BatchLane<Lanes>::kTaps; ++k) input[k] = l.tap[k].at(t);
}

// The lane's share of the accumulator from its current inputs (exact in int32).
template <int Lanes>
SPIKEY_HD std::int32_t batch_lane_partial(const BatchLane<Lanes>& l) {
  std::int32_t sum = 0;
  for (int k = 0; k < BatchLane<Lanes>::kTaps; ++k) sum += l.weight[k] * l.input[k];
  return sum;
}

// The lane's weights and taps: tap_of(i) for each of its tap indices below `taps`.
template <int Lanes, class TapOf>
SPIKEY_HD void batch_lane_start(int taps, std::uint32_t weights_offset, const std::int32_t* weight_table, int lane, TapOf tap_of,
                                BatchLane<Lanes>& l) {
  for (int k = 0; k < BatchLane<Lanes>::kTaps; ++k) {
    const int i = lane + k * Lanes;
    l.weight[k] = i < taps ? weight_table[weights_offset + static_cast<std::uint32_t>(i)] : 0;
    l.tap[k] = i < taps ? tap_of(i) : BatchTap{};
  }
}

template <int Lanes>
SPIKEY_HD void batch_lpc_lane_start(const LpcModel& model, const BatchStream& s, const BatchStream* streams, const std::int16_t* diffs,
                                    const std::int32_t* weight_table, int lane, BatchLane<Lanes>& l) {
  batch_lane_start<Lanes>(model.taps(), s.weights_offset, weight_table, lane,
                          [&](int i) { return batch_lpc_tap(model, s, streams, diffs, i); }, l);
}

// From the whole accumulator: the folded residual of time t (every lane computes the same) and
// the signed residual e for the update.
// `delta` is u[t] - u[t-1] (batch_code_delta).
SPIKEY_HD std::int32_t batch_code_delta(const BatchStream& s, std::uint32_t t, const std::int32_t* codes) {
  return codes[s.sample_offset + t] - codes[s.sample_offset + t - 1];
}

SPIKEY_HD std::uint32_t batch_lpc_fold(const LpcModel& model, std::int32_t delta, std::int32_t acc, std::int32_t& e) {
  const std::int32_t p = lpc_prediction(acc, model.weight_shift);
  e = delta - p;
  return zigzag_encode(lpc_flip(acc, p, model.weight_shift) ? -e : e);
}

SPIKEY_HD std::uint32_t batch_lpc_fold(const LpcModel& model, const BatchStream& s, std::uint32_t t, const std::int32_t* codes, std::int32_t acc,
                                       std::int32_t& e) {
  return batch_lpc_fold(model, batch_code_delta(s, t, codes), acc, e);
}

// The sign-sign update (lms_update, mo_lms_update) on the lane's taps. A slot beyond the
// stream's taps holds weight 0 and input 0, so it stays 0 without a check.
template <int Lanes>
SPIKEY_HD void batch_lane_update(std::int32_t lms_step, std::int32_t e, BatchLane<Lanes>& l) {
  const std::int32_t step = lms_step * sign_of(e);
  if (step == 0) return;
  for (int k = 0; k < BatchLane<Lanes>::kTaps; ++k) {
    const std::int32_t w = l.weight[k] + step * sign_of(l.input[k]);
    l.weight[k] = w > kMaxLpcWeight ? kMaxLpcWeight : (w < -kMaxLpcWeight ? -kMaxLpcWeight : w);
  }
}

// Stage 2c in a lane form, its lanes run one after another (the CPU's reference of the GPU's
// kernels); returns the sum, as batch_lpc_adapting_stream.
template <int Lanes>
SPIKEY_HD std::uint64_t batch_lpc_adapting_in_lanes(const BatchStream& s, const BatchStream* streams, const std::int32_t* codes,
                                                    const std::int16_t* diffs, const std::int32_t* weight_table, std::uint32_t* folded) {
  const LpcModel model = batch_model(s, true);
  BatchLane<Lanes> lanes[Lanes];
  for (int lane = 0; lane < Lanes; ++lane) {
    batch_lpc_lane_start(model, s, streams, diffs, weight_table, lane, lanes[lane]);
    batch_lane_inputs(lanes[lane], 1, lanes[lane].input);
  }
  std::uint64_t sum = 0;
  for (std::uint32_t t = 1; t < s.n; ++t) {
    std::int32_t acc = 0;
    for (int lane = 0; lane < Lanes; ++lane) acc += batch_lane_partial(lanes[lane]);
    std::int32_t e = 0;
    const std::uint32_t out = batch_lpc_fold(model, batch_code_delta(s, t, codes), acc, e);
    folded[s.sample_offset + t - 1] = out;
    sum += out;
    for (int lane = 0; lane < Lanes; ++lane) {
      batch_lane_update(model.lms_step, e, lanes[lane]);
      batch_lane_inputs(lanes[lane], t + 1, lanes[lane].input);
    }
  }
  return sum;
}

// The folded residual of time t >= 1 with `weights` (model.taps() of them), written at
// folded[sample_offset + t - 1]; adapts the weights when model.lms_step != 0.
SPIKEY_HD std::uint32_t batch_lpc_step(const LpcModel& model, const BatchStream& s, const BatchStream* streams, std::uint32_t t,
                                       const std::int32_t* codes, const std::int16_t* diffs, std::int32_t* weights, std::uint32_t* folded) {
  std::int32_t inputs[kMaxLpcTaps];
  for (int i = 0; i < model.taps(); ++i) inputs[i] = batch_lpc_input(model, s, streams, t, diffs, i);
  std::int32_t e = 0;
  const std::uint32_t out = batch_lpc_fold(model, s, t, codes, lpc_accumulate(model, weights, inputs, inputs + model.order), e);
  folded[s.sample_offset + t - 1] = out;
  if (model.lms_step != 0) lms_update(model, weights, inputs, inputs + model.order, e);
  return out;
}

// Stage 2b's inputs of a stream, resolved once: each tap (batch_lpc_tap, batch_mo_tap) and its
// stored weight, so that the fixed-weight residual at each t is a sum of loads (a GPU block
// keeps them in shared memory, filled a tap per thread; the CPU executor keeps them per stream).
// The accumulator is an integer sum within the codecs' int32 bounds, so the same in any order.
struct BatchFixedTaps {
  int count = 0;
  std::int32_t weight[kMaxBatchTaps];
  BatchTap tap[kMaxBatchTaps];
};

SPIKEY_HD std::int32_t batch_fixed_accumulator(const BatchFixedTaps& f, std::uint32_t t) {
  std::int32_t acc = 0;
  for (int i = 0; i < f.count; ++i) acc += f.weight[i] * f.tap[i].at(t);
  return acc;
}

// Tap i (< model.taps()) of a stream's lpc1 fixed variant.
SPIKEY_HD void batch_lpc_fixed_tap(const LpcModel& model, const BatchStream& s, const BatchStream* streams, const std::int16_t* diffs,
                                   const std::int32_t* weight_table, int i, BatchFixedTaps& f) {
  f.weight[i] = weight_table[s.weights_offset + static_cast<std::uint32_t>(i)];
  f.tap[i] = batch_lpc_tap(model, s, streams, diffs, i);
}

SPIKEY_HD void batch_lpc_fixed_taps(const BatchStream& s, const BatchStream* streams, const std::int16_t* diffs, const std::int32_t* weight_table,
                                    BatchFixedTaps& f) {
  const LpcModel model = batch_model(s, false);
  f.count = model.taps();
  for (int i = 0; i < f.count; ++i) batch_lpc_fixed_tap(model, s, streams, diffs, weight_table, i, f);
}

// Stage 2b at t >= 1, from the stream's resolved taps.
SPIKEY_HD void batch_lpc_fixed_residual(const BatchStream& s, const BatchFixedTaps& f, std::uint32_t t, const std::int32_t* codes,
                                        std::uint32_t* folded) {
  std::int32_t e = 0;
  folded[s.sample_offset + t - 1] = batch_lpc_fold(batch_model(s, false), s, t, codes, batch_fixed_accumulator(f, t), e);
}

// Stage 2c: the adapting variant of a stream with lms_step != 0; returns its sum.
SPIKEY_HD std::uint64_t batch_lpc_adapting_stream(const BatchStream& s, const BatchStream* streams, const std::int32_t* codes,
                                                  const std::int16_t* diffs, const std::int32_t* weight_table, std::uint32_t* folded) {
  std::int32_t weights[kMaxLpcTaps];
  const LpcModel model = batch_model(s, true);
  for (int i = 0; i < model.taps(); ++i) weights[i] = weight_table[s.weights_offset + static_cast<std::uint32_t>(i)];
  std::uint64_t sum = 0;
  for (std::uint32_t t = 1; t < s.n; ++t) sum += batch_lpc_step(model, s, streams, t, codes, diffs, weights, folded);
  return sum;
}

// Stage 2 of the MiddleOut codecs (mo1-mo3, mt1-mt3) in parts: the fixed-weight variant of a
// stream whose network stage has no state (no network, or the ReLU projector) is, like lpc1's,
// a function of inputs known before the prediction, so it runs per sample:
//   2a  per sample            batch_clamped_difference (above)
//   2a' per sample and level  batch_wavelet_level: the undecimated dmey bank level by level into
//                             int16 planes (approximation and detail of each level, |v| <= 4095)
//   2b  per sample            batch_mo_fixed_residual
//   2c  per stream            batch_mo_adapting_in_lanes: the adapting variant in the warp form
// A stream whose network is the GRU (its state runs through the chunk) keeps both variants in
// batch_predict_stream, per stream.
SPIKEY_HD bool batch_mo_in_parts(const BatchStream& s, const MoNetwork* network) {
  return s.net_output_gain == 0 || network == nullptr || network->projector != NetProjector::kGru;
}

// Plane of level l's approximation (detail: + 1) of every stream, each plane `stride` samples.
SPIKEY_HD std::int16_t* batch_wavelet_plane(std::int16_t* planes, std::uint64_t stride, int level, bool detail) {
  return planes + (static_cast<std::uint64_t>(2 * (level - 1)) + (detail ? 1 : 0)) * stride;
}

// Stage 2a': a_l[tau] and d_l[tau] of level `level` (1..s.wavelet_levels) from a_{l-1} (a_0 = c),
// zero before the chunk: wavelet_step's arithmetic, for one tau.
SPIKEY_HD void batch_wavelet_level(const BatchStream& s, int level, std::uint32_t tau, const std::int16_t* diffs, std::int16_t* planes,
                                   std::uint64_t stride) {
  const std::int16_t* in = (level == 1 ? diffs : batch_wavelet_plane(planes, stride, level - 1, false)) + s.sample_offset;
  const std::int64_t dilation = std::int64_t{1} << (level - 1);
  std::int32_t low = 0, high = 0;
  for (int j = 0; j < kDmeyTaps; ++j) {
    const std::int64_t at = std::int64_t{tau} - j * dilation;
    const std::int32_t x = at >= 0 ? in[at] : 0;
    low += dmey_low(j) * x;
    high += dmey_high(j) * x;
  }
  const std::int32_t half = std::int32_t{1} << (kDmeyShift - 1);
  batch_wavelet_plane(planes, stride, level, false)[s.sample_offset + tau] = static_cast<std::int16_t>(clamp_wavelet((low + half) >> kDmeyShift));
  batch_wavelet_plane(planes, stride, level, true)[s.sample_offset + tau] = static_cast<std::int16_t>(clamp_wavelet((high + half) >> kDmeyShift));
}

// Tap i (< m.taps()) at time t >= 1, in mo_inputs' order: c[t-N .. t-1], the features after
// sample t-1 (d_1..d_L, a_L), each source's c_k[t-W .. t+W]; zero outside each channel's
// 1..n-1. None depends on the weights, so both variants read them from the planes.
SPIKEY_HD BatchTap batch_mo_tap(const MoModel& m, const BatchStream& s, const BatchStream* streams, const std::int16_t* diffs,
                                const std::int16_t* planes, std::uint64_t stride, int i) {
  if (i < m.order) return batch_difference_tap(s, diffs, i - m.order);
  i -= m.order;
  if (i < m.wavelet_taps()) {
    const bool approximation = i == m.levels;
    const std::int16_t* plane = batch_wavelet_plane(const_cast<std::int16_t*>(planes), stride, approximation ? m.levels : i + 1, !approximation);
    return batch_tap(plane + s.sample_offset, -1, 0, std::int64_t{s.n});  // the value after sample t-1
  }
  i -= m.wavelet_taps();
  const int k = i / m.source_taps(), j = i % m.source_taps();
  if (s.source_stream[k] < 0) return BatchTap{};
  return batch_difference_tap(streams[s.source_stream[k]], diffs, j - m.half_window);
}

SPIKEY_HD std::int32_t batch_mo_input(const MoModel& m, const BatchStream& s, const BatchStream* streams, std::uint32_t t, const std::int16_t* diffs,
                                      const std::int16_t* planes, std::uint64_t stride, int i) {
  return batch_mo_tap(m, s, streams, diffs, planes, stride, i).at(t);
}


// The residual at time t from the whole accumulator (linear plus the network's correction),
// written as the codec stores it (mo: folded at t-1; mt: z at t) unless `folded` is null (a
// lane form's other lanes). Returns stage 3's cost of it; e is the residual.
SPIKEY_HD std::uint64_t batch_mo_fold(const MoModel& m, const BatchStream& s, std::uint32_t t, std::int32_t delta, std::int32_t acc, std::int32_t& e,
                                      std::uint32_t* folded) {
  const std::int32_t p = lpc_prediction(acc, m.weight_shift);
  e = delta - p;
  if (s.codec == BatchCodec::kMt) {
    if (folded != nullptr) reinterpret_cast<std::int32_t*>(folded + s.sample_offset)[t] = e;  // int32 and uint32 may alias
    return static_cast<std::uint64_t>(e < 0 ? -std::int64_t{e} : std::int64_t{e});
  }
  const std::uint32_t out = zigzag_encode(lpc_flip(acc, p, m.weight_shift) ? -e : e);
  if (folded != nullptr) folded[s.sample_offset + t - 1] = out;
  return out;
}

// The ReLU network's inputs at time t: from the stream's recent differences and the linear
// prediction of the linear accumulator.
SPIKEY_HD void batch_mo_net_inputs(const MoModel& m, const BatchStream& s, std::uint32_t t, const std::int16_t* diffs, std::int32_t acc,
                                   std::int32_t* x) {
  std::int32_t recent[kNetHistory];
  for (int k = 0; k < kNetHistory; ++k) recent[k] = batch_difference_tap(s, diffs, k - kNetHistory).at(t);
  net_inputs(m.net_input_gain, recent, lpc_prediction(acc, m.weight_shift), x);
}

// From the linear accumulator at time t: the ReLU network's correction (a stream in parts has
// no GRU), then batch_mo_fold.
SPIKEY_HD std::uint64_t batch_mo_finish(const MoModel& m, const BatchStream& s, std::uint32_t t, std::int32_t delta, const std::int16_t* diffs,
                                        std::int32_t acc, std::int32_t& e, std::uint32_t* folded) {
  if (m.uses_network()) {
    std::int32_t x[kNetInputs];
    batch_mo_net_inputs(m, s, t, diffs, acc, x);
    acc += net_correction(mo_relu_output(*m.network, x), m.net_output_gain);
  }
  return batch_mo_fold(m, s, t, delta, acc, e, folded);
}

// Tap i (< m.taps()) of a stream's MiddleOut fixed variant (BatchFixedTaps, above).
SPIKEY_HD void batch_mo_fixed_tap(const MoModel& m, const BatchStream& s, const BatchStream* streams, const std::int16_t* diffs,
                                  const std::int16_t* planes, std::uint64_t stride, const std::int32_t* weight_table, int i, BatchFixedTaps& f) {
  f.weight[i] = weight_table[s.weights_offset + static_cast<std::uint32_t>(i)];
  f.tap[i] = batch_mo_tap(m, s, streams, diffs, planes, stride, i);
}

SPIKEY_HD void batch_mo_fixed_taps(const BatchStream& s, const BatchStream* streams, const std::int16_t* diffs, const std::int16_t* planes,
                                   std::uint64_t stride, const std::int32_t* weight_table, const MoNetwork* network, BatchFixedTaps& f) {
  const MoModel m = batch_mo_model(s, false, network);
  f.count = m.taps();
  for (int i = 0; i < f.count; ++i) batch_mo_fixed_tap(m, s, streams, diffs, planes, stride, weight_table, i, f);
}

// Stage 2b at t: mo_fold_residuals' step with the stored weights, from the stream's resolved
// taps (mt: the signed residual z[t] at slot t; t = 0 writes z[0] = 0 and lpc/mo nothing).
SPIKEY_HD void batch_mo_fixed_residual(const BatchStream& s, const BatchFixedTaps& f, std::uint32_t t, const std::int32_t* codes,
                                       const std::int16_t* diffs, const MoNetwork* network, std::uint32_t* folded) {
  if (t == 0) {
    if (s.codec == BatchCodec::kMt) folded[s.sample_offset] = 0;
    return;
  }
  std::int32_t e = 0;
  batch_mo_finish(batch_mo_model(s, false, network), s, t, batch_code_delta(s, t, codes), diffs, batch_fixed_accumulator(f, t), e, folded);
}

// The adapting variant of a stream whose network has no state, in a lane form (as lpc1's: the
// linear accumulator is the sum of the lanes' partial sums, every lane derives the same residual
// and adapts its own taps). The ReLU network is spread over the same lanes: lane l holds hidden
// units l, l + Lanes (kMaxNetHidden = 32), and o is b2 plus the sum of the lanes' terms.
template <int Lanes>
SPIKEY_HD void batch_mo_lane_start(const MoModel& m, const BatchStream& s, const BatchStream* streams, const std::int16_t* diffs,
                                   const std::int16_t* planes, std::uint64_t stride, const std::int32_t* weight_table, int lane, BatchLane<Lanes>& l) {
  batch_lane_start<Lanes>(m.taps(), s.weights_offset, weight_table, lane,
                          [&](int i) { return batch_mo_tap(m, s, streams, diffs, planes, stride, i); }, l);
}

template <int Lanes>
struct BatchNetLane {
  static constexpr int kUnits = (kMaxNetHidden + Lanes - 1) / Lanes;
  // A unit beyond the network's holds zeros: its term is 0.
  std::int32_t w1[kUnits][kNetInputs] = {};
  std::int32_t b1[kUnits] = {};
  std::int32_t w2[kUnits] = {};
  int units = 0;  // the first `units` are the network's
};

template <int Lanes>
SPIKEY_HD void batch_net_lane_start(const MoNetwork& net, int lane, BatchNetLane<Lanes>& u) {
  for (int k = 0; k < BatchNetLane<Lanes>::kUnits; ++k) {
    const int j = lane + k * Lanes;
    if (j >= net.hidden) continue;
    for (int i = 0; i < kNetInputs; ++i) u.w1[k][i] = net.w1[j][i];
    u.b1[k] = net.b1[j];
    u.w2[k] = net.w2[j];
    u.units = k + 1;
  }
}

// The lane's share of o - b2.
template <int Lanes>
SPIKEY_HD std::int32_t batch_net_lane_partial(const BatchNetLane<Lanes>& u, const std::int32_t* x) {
  std::int32_t sum = 0;
  for (int k = 0; k < BatchNetLane<Lanes>::kUnits; ++k)
    if (k < u.units) sum += net_unit_term(u.w1[k], u.b1[k], u.w2[k], x);
  return sum;
}

// The CPU's reference of the lane forms (lanes in a loop); returns stage 3's sum.
template <int Lanes>
SPIKEY_HD std::uint64_t batch_mo_adapting_in_lanes(const BatchStream& s, const BatchStream* streams, const std::int32_t* codes, const std::int16_t* diffs,
                                                   const std::int16_t* planes, std::uint64_t stride, const std::int32_t* weight_table,
                                                   const MoNetwork* network, std::uint32_t* folded) {
  const MoModel m = batch_mo_model(s, true, network);
  BatchLane<Lanes> lanes[Lanes];
  BatchNetLane<Lanes> units[Lanes];
  for (int lane = 0; lane < Lanes; ++lane) {
    batch_mo_lane_start(m, s, streams, diffs, planes, stride, weight_table, lane, lanes[lane]);
    batch_lane_inputs(lanes[lane], 1, lanes[lane].input);
    if (m.uses_network()) batch_net_lane_start(*m.network, lane, units[lane]);
  }
  if (s.codec == BatchCodec::kMt) folded[s.sample_offset] = 0;  // z[0]
  std::uint64_t sum = 0;
  for (std::uint32_t t = 1; t < s.n; ++t) {
    std::int32_t acc = 0;
    for (int lane = 0; lane < Lanes; ++lane) acc += batch_lane_partial(lanes[lane]);
    if (m.uses_network()) {
      std::int32_t x[kNetInputs];
      batch_mo_net_inputs(m, s, t, diffs, acc, x);
      std::int32_t o = m.network->b2;
      for (int lane = 0; lane < Lanes; ++lane) o += batch_net_lane_partial(units[lane], x);
      acc += net_correction(o, m.net_output_gain);
    }
    std::int32_t e = 0;
    sum += batch_mo_fold(m, s, t, batch_code_delta(s, t, codes), acc, e, folded);
    for (int lane = 0; lane < Lanes; ++lane) {
      batch_lane_update(m.lms_step, e, lanes[lane]);
      batch_lane_inputs(lanes[lane], t + 1, lanes[lane].input);
    }
  }
  return sum;
}

// Stage 3's input for a fixed variant computed in parts, the sum over t = 1..n-1 of this: lpc
// and mo the folded residual, mt |z[t]| (mo_residual_cost). Integers: any order sums alike.
SPIKEY_HD std::uint64_t batch_fixed_cost_at(const BatchStream& s, std::uint32_t t, const std::uint32_t* folded) {
  if (t == 0) return 0;
  if (s.codec != BatchCodec::kMt) return folded[s.sample_offset + t - 1];
  const std::int32_t z = reinterpret_cast<const std::int32_t*>(folded + s.sample_offset)[t];
  return static_cast<std::uint64_t>(z < 0 ? -std::int64_t{z} : std::int64_t{z});
}

SPIKEY_HD std::uint64_t batch_fixed_sum(const BatchStream& s, const std::uint32_t* folded) {
  std::uint64_t sum = 0;
  for (std::uint32_t t = 1; t < s.n; ++t) sum += batch_fixed_cost_at(s, t, folded);
  return sum;
}

// Stage 3: as the sequential encoder, adapt when the stream may adapt and adapting gave the
// smaller sum of folded residuals (mt: of |z|).
SPIKEY_HD std::uint32_t batch_choose_adapt(const BatchStream& s) {
  return s.lms_step != 0 && s.folded_sum[1] < s.folded_sum[0] ? 1u : 0u;
}

SPIKEY_HD const std::uint32_t* batch_chosen_residuals(const BatchStream& s, const std::uint32_t* folded_fixed,
                                                      const std::uint32_t* folded_adapting) {
  return (s.adapt ? folded_adapting : folded_fixed) + s.sample_offset;
}

// Stage 4.
SPIKEY_HD void batch_choose_index(BatchPartition& p, const BatchStream& s, const std::uint32_t* folded_fixed,
                                  const std::uint32_t* folded_adapting) {
  const std::uint32_t* residuals = batch_chosen_residuals(s, folded_fixed, folded_adapting) + p.start;
  const int index = golomb_index_for_partition(residuals, static_cast<int>(p.count));
  p.index = static_cast<std::uint32_t>(index);
  p.codeword_bits = golomb_partition_bits(residuals, static_cast<int>(p.count), index);
}

// Stage 5: index fields (they depend on the previous partition's index) and bit offsets.
SPIKEY_HD void batch_lay_out_stream(BatchStream& s, BatchPartition* partitions) {
  std::uint64_t bits = kGolombWarmupBits + 1;  // warm-up code, adapt flag
  int previous = 0;
  for (std::uint32_t i = 0; i < s.partitions; ++i) {
    BatchPartition& p = partitions[s.first_partition + i];
    p.field_bits = static_cast<std::uint32_t>(golomb_index_field_bits(i, static_cast<int>(p.index), previous));
    p.bit_offset = bits;
    bits += p.field_bits + p.codeword_bits;
    previous = static_cast<int>(p.index);
  }
  s.bits = bits;
  s.words = static_cast<std::uint32_t>((bits + 31) / 32);
}

// ORs the low `bits` bits (<= 57) of `value` into the bit stream at absolute bit `position`.
// Concurrent writers never share bits, only words, so OR (atomic where threads run) is enough.
SPIKEY_HD void or_bits(std::uint32_t* words, std::uint64_t position, std::uint64_t value, int bits) {
  if (bits == 0) return;
  std::uint64_t word = position >> 5;
  const int shift = static_cast<int>(position & 31);
  // Up to 57 + 31 = 88 bits: three 32-bit words.
  const std::uint64_t low = value << shift;                              // bits 0..63 of the placed field
  const std::uint32_t parts[3] = {static_cast<std::uint32_t>(low), static_cast<std::uint32_t>(low >> 32),
                                  shift == 0 ? 0u : static_cast<std::uint32_t>(value >> (64 - shift))};
  const int touched = static_cast<int>((static_cast<std::uint64_t>(shift) + static_cast<std::uint64_t>(bits) + 31) / 32);
  for (int i = 0; i < touched; ++i, ++word) {
    if (parts[i] == 0) continue;
#if defined(__CUDA_ARCH__)
    atomicOr(words + word, parts[i]);
#else
    __atomic_fetch_or(words + word, parts[i], __ATOMIC_RELAXED);  // GCC/Clang builtin, also under nvcc's host pass
#endif
  }
}

// Stage 7.
SPIKEY_HD void batch_write_stream_head(const BatchStream& s, const std::int32_t* codes, std::uint32_t* words) {
  const std::uint64_t base = s.word_offset * 32;
  or_bits(words, base, static_cast<std::uint32_t>(codes[s.sample_offset]), kGolombWarmupBits);
  or_bits(words, base + kGolombWarmupBits, s.adapt, 1);
}

// Stage 8. A partition's residuals are dealt to kBatchLanes lanes in consecutive runs; lane 0
// also writes the index field first.
SPIKEY_HD void batch_lane_range(const BatchPartition& p, int lane, std::uint32_t* first, std::uint32_t* end) {
  const std::uint32_t per_lane = (p.count + kBatchLanes - 1) / kBatchLanes;
  const std::uint32_t a = per_lane * static_cast<std::uint32_t>(lane);
  *first = a < p.count ? a : p.count;
  *end = a + per_lane < p.count ? a + per_lane : p.count;
}

SPIKEY_HD std::uint64_t batch_lane_bits(const BatchPartition& p, int lane, const std::uint32_t* residuals) {
  std::uint32_t first, end;
  batch_lane_range(p, lane, &first, &end);
  std::uint64_t bits = lane == 0 ? p.field_bits : 0;
  for (std::uint32_t i = first; i < end; ++i) bits += static_cast<std::uint64_t>(golomb_codeword_bits(residuals[p.start + i], static_cast<int>(p.index)));
  return bits;
}

// `lane_offset` is the exclusive prefix sum of batch_lane_bits over the lanes before `lane`.
SPIKEY_HD void batch_write_lane(const BatchPartition& p, std::uint32_t partition_in_stream, int previous_index, const BatchStream& s,
                                int lane, std::uint64_t lane_offset, const std::uint32_t* residuals, std::uint32_t* words) {
  std::uint64_t position = s.word_offset * 32 + p.bit_offset + lane_offset;
  if (lane == 0) {
    or_bits(words, position, golomb_index_field(partition_in_stream, static_cast<int>(p.index), previous_index), static_cast<int>(p.field_bits));
    position += p.field_bits;
  }
  std::uint32_t first, end;
  batch_lane_range(p, lane, &first, &end);
  for (std::uint32_t i = first; i < end; ++i) {
    std::uint64_t value;
    int bits;
    golomb_codeword(residuals[p.start + i], static_cast<int>(p.index), &value, &bits);
    or_bits(words, position, value, bits);
    position += static_cast<std::uint64_t>(bits);
  }
}

}  // namespace spikey::format
