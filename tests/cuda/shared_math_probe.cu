#include <thrust/copy.h>
#include <thrust/device_vector.h>

#include <algorithm>

#include "spikey/cuda/cuda_check.cuh"
#include "cuda/shared_math_probe.hpp"
#include "spikey/format/archive.hpp"
#include "spikey/format/codecs/rice1/rice1_stream.hpp"
#include "spikey/format/codecs/cm/cm_stream.hpp"
#include "spikey/format/codecs/common/golomb.hpp"
#include "spikey/format/codecs/common/golomb_stream.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/codecs/common/rice.hpp"
#include "spikey/format/value_map.hpp"
#include "spikey/format/codecs/common/zigzag.hpp"

namespace spikey::cuda {

namespace f = spikey::format;

namespace {

constexpr std::uint32_t kProbePartition = 256;

struct Sizes {
  std::size_t residuals, values, folded, codes, partitions;
};

// One function body for both sides: each index i is one independent evaluation.
SPIKEY_HD void evaluate_one(std::size_t i, const Sizes& n, const std::int32_t* residuals, const std::int16_t* values,
                            const std::uint32_t* folded, std::uint32_t* zigzag, std::int32_t* n1_codes, std::int16_t* n1_values,
                            std::int32_t* rice_bits, std::int32_t* partition_parameter, std::int32_t* golomb_bits,
                            std::int32_t* golomb_index) {
  const f::ValueMap n1{f::ValueMapKind::n1_10bit};
  if (i < n.residuals) zigzag[i] = f::zigzag_encode(residuals[i]);
  if (i < n.values) n1_codes[i] = f::value_to_code(n1, values[i]);
  if (i < 1024) n1_values[i] = f::code_to_value(n1, static_cast<std::int32_t>(i));
  if (i < n.folded) rice_bits[i] = f::rice_codeword_bits(folded[i], static_cast<int>(i % (f::kMaxRiceParameter + 1)));
  if (i < n.partitions) {
    const std::size_t start = i * kProbePartition;
    const std::size_t count = n.folded - start < kProbePartition ? n.folded - start : kProbePartition;
    partition_parameter[i] = f::rice_parameter_for_partition(folded + start, static_cast<int>(count));
    golomb_index[i] = f::golomb_index_for_partition(folded + start, static_cast<int>(count));
  }
  if (i < n.folded) golomb_bits[i] = f::golomb_codeword_bits(folded[i], static_cast<int>(i % (f::kMaxGolombIndex + 1)));
}

// The probe's lpc1 model: 8 history taps, a source window of 2 (the channel's own codes
// delayed, standing in for a neighbour), LMS step 2.
SPIKEY_HD f::LpcModel probe_lpc_model() {
  f::LpcModel m;
  m.order = 8;
  m.source_half_window = 2;
  m.weight_shift = 12;
  m.lms_step = 2;
  return m;
}

SPIKEY_HD void probe_lpc_weights(std::int32_t* w) {
  const std::int32_t initial[13] = {-40, 25, 60, -120, 180, -300, 900, 2600, 150, -200, 400, -200, 150};
  for (int i = 0; i < 13; ++i) w[i] = initial[i];
}

// Folds the residuals of `codes` with the probe model, chooses partition indices and writes
// the stream. Scratch: history, source, weights (13), folded, indices. Returns words.
SPIKEY_HD std::uint32_t probe_lpc_stream(const std::int32_t* codes, std::uint32_t count, std::int32_t* history, std::int32_t* source,
                                        std::int32_t* weights, std::uint32_t* folded, std::uint8_t* indices, std::uint32_t* words) {
  const f::LpcModel model = probe_lpc_model();
  probe_lpc_weights(weights);
  f::fill_source_buffer(codes, count > 3 ? count - 3 : 0, count, source);
  f::lpc_fold_residuals(model, codes, count, weights, history, source, folded);
  f::golomb_partition_indices(folded, count - 1, kProbePartition, indices);
  return f::encode_golomb_stream(codes[0], true, folded, count - 1, kProbePartition, indices, words);
}

// cm1 probe model: mo1 with 8 history taps and LMS; shapes completed from two stored classes
// (prepared on the host: cm_complete_shapes), a prior of period 64.
constexpr int kCmProbeTaps = 8;

SPIKEY_HD f::MoModel probe_mo_model() {
  f::MoModel m;
  m.order = kCmProbeTaps;
  m.weight_shift = 12;
  m.lms_step = 2;
  return m;
}

std::vector<f::CmShape> probe_cm_shapes() { return f::cm_complete_shapes({{96, 110, 12, 0}, {100, 118, 16, 0}, {103, 121, 9, 0}}, 14); }

std::vector<std::uint8_t> probe_cm_prior() {
  std::vector<std::uint8_t> prior(64);
  for (std::size_t i = 0; i < prior.size(); ++i) prior[i] = static_cast<std::uint8_t>(96 + (i * 37) % 64);
  return prior;
}

// Builds the tables, computes mo1 residuals and writes the stream. Scratch: shape_storage
// (kCmClasses * (kCmMaxHalfWidth + 1)), history, weights (8), residuals, symbols, bytes.
SPIKEY_HD std::uint64_t probe_cm_stream(const std::int32_t* codes, std::uint32_t count, const f::CmShape* shapes, const std::uint8_t* prior_bytes,
                                        std::uint16_t* shape_storage, std::uint16_t* prior, std::int32_t* history, std::int32_t* weights,
                                        std::int32_t* residuals, f::CmSymbol* symbols, std::uint8_t* scratch, std::uint8_t* out) {
  f::CmTables tables;
  for (int k = 0; k < f::kCmClasses; ++k) {
    std::uint16_t* table = shape_storage + k * (f::kCmMaxHalfWidth + 1);
    tables.half_width[k] = f::cm_build_shape(shapes[k], table);
    tables.shift[k] = shapes[k].shift;
    tables.shape[k] = table;
  }
  for (int i = 0; i < 64; ++i) prior[i] = static_cast<std::uint16_t>(f::cm_prior_weight(prior_bytes[i]));
  tables.prior = prior;
  tables.prior_mask = 63;
  f::cm_code_range(f::ValueMap{f::ValueMapKind::n1_10bit}, &tables.code_low, &tables.code_high);
  tables.scale_rate = 5;
  const std::int32_t initial[kCmProbeTaps] = {-60, 90, -150, 260, -420, 800, 1900, 2600};
  for (int i = 0; i < kCmProbeTaps; ++i) weights[i] = initial[i];
  std::int32_t features[f::kMoStateSize] = {};
  f::mo_residuals(probe_mo_model(), codes, count, weights, history, nullptr, features, nullptr, residuals);
  return f::encode_cm_stream(tables, f::CmDirectNormaliser{&tables}, codes, residuals, count, true, symbols, scratch, out);
}

__global__ void cm_stream_kernel(const std::int32_t* codes, std::uint32_t count, const f::CmShape* shapes, const std::uint8_t* prior_bytes,
                                 std::uint16_t* shape_storage, std::uint16_t* prior, std::int32_t* history, std::int32_t* weights,
                                 std::int32_t* residuals, f::CmSymbol* symbols, std::uint8_t* scratch, std::uint8_t* out,
                                 std::uint64_t* size) {
  *size = probe_cm_stream(codes, count, shapes, prior_bytes, shape_storage, prior, history, weights, residuals, symbols, scratch, out);
}

__global__ void evaluate_kernel(Sizes n, const std::int32_t* residuals, const std::int16_t* values, const std::uint32_t* folded,
                                std::uint32_t* zigzag, std::int32_t* n1_codes, std::int16_t* n1_values, std::int32_t* rice_bits,
                                std::int32_t* partition_parameter, std::int32_t* golomb_bits, std::int32_t* golomb_index,
                                std::size_t total) {
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x)
    evaluate_one(i, n, residuals, values, folded, zigzag, n1_codes, n1_values, rice_bits, partition_parameter, golomb_bits,
                 golomb_index);
}

__global__ void lpc_stream_kernel(const std::int32_t* codes, std::uint32_t count, std::int32_t* history, std::int32_t* source,
                                  std::int32_t* weights, std::uint32_t* folded, std::uint8_t* indices, std::uint32_t* words,
                                  std::uint32_t* word_count) {
  *word_count = probe_lpc_stream(codes, count, history, source, weights, folded, indices, words);
}

// The sequential stream encoder in one thread: proves the whole stream path compiles and
// matches on the device (the parallel encoder of the CUDA backend must produce these bytes).
__global__ void encode_stream_kernel(const std::int32_t* codes, std::uint32_t count, std::uint32_t* scratch, std::uint32_t* words,
                                     std::uint32_t* word_count) {
  *word_count = f::encode_rice1_stream(codes, count, kProbePartition, scratch, words);
}

Sizes sizes_of(const std::vector<std::int32_t>& residuals, const std::vector<std::int16_t>& values,
               const std::vector<std::uint32_t>& folded, const std::vector<std::int32_t>& codes) {
  return {residuals.size(), values.size(), folded.size(), codes.size(), (folded.size() + kProbePartition - 1) / kProbePartition};
}

SharedMathResults sized_results(const Sizes& n) {
  SharedMathResults r;
  r.zigzag.resize(n.residuals);
  r.n1_codes.resize(n.values);
  r.n1_values.resize(1024);
  r.rice_bits.resize(n.folded);
  r.partition_parameter.resize(n.partitions);
  r.golomb_bits.resize(n.folded);
  r.golomb_index.resize(n.partitions);
  return r;
}

template <typename T>
T* raw(thrust::device_vector<T>& v) {
  return thrust::raw_pointer_cast(v.data());
}

}  // namespace

SharedMathResults evaluate_shared_math_on_host(const std::vector<std::int32_t>& residuals, const std::vector<std::int16_t>& values,
                                               const std::vector<std::uint32_t>& folded, const std::vector<std::int32_t>& codes) {
  const Sizes n = sizes_of(residuals, values, folded, codes);
  SharedMathResults r = sized_results(n);
  const std::size_t total = std::max({n.residuals, n.values, n.folded, std::size_t{1024}});
  for (std::size_t i = 0; i < total; ++i)
    evaluate_one(i, n, residuals.data(), values.data(), folded.data(), r.zigzag.data(), r.n1_codes.data(), r.n1_values.data(),
                 r.rice_bits.data(), r.partition_parameter.data(), r.golomb_bits.data(), r.golomb_index.data());
  if (!codes.empty()) {
    std::vector<std::uint32_t> scratch(codes.size());
    r.channel_stream.resize(f::max_rice1_stream_words(static_cast<std::uint32_t>(codes.size()), kProbePartition));
    r.channel_stream.resize(f::encode_rice1_stream(codes.data(), static_cast<std::uint32_t>(codes.size()), kProbePartition,
                                                     scratch.data(), r.channel_stream.data()));
    const auto count = static_cast<std::uint32_t>(codes.size());
    std::vector<std::int32_t> history(f::lpc_history_buffer_size(count)), source(f::source_buffer_size(count)), weights(13);
    std::vector<std::uint32_t> folded_lpc(count), words(f::max_golomb_stream_words(count, kProbePartition));
    std::vector<std::uint8_t> indices(count / kProbePartition + 2);
    words.resize(probe_lpc_stream(codes.data(), count, history.data(), source.data(), weights.data(), folded_lpc.data(), indices.data(),
                                  words.data()));
    r.lpc_stream = words;

    const auto shapes = probe_cm_shapes();
    const auto prior_bytes = probe_cm_prior();
    std::vector<std::uint16_t> shape_storage(f::kCmClasses * (f::kCmMaxHalfWidth + 1)), prior(64);
    std::vector<std::int32_t> cm_history(f::mo_history_buffer_size(count)), cm_weights(kCmProbeTaps), residuals_cm(count);
    std::vector<f::CmSymbol> symbols(f::max_cm_symbols(count));
    std::vector<std::uint8_t> scratch_bytes(f::max_cm_stream_bytes(count)), out(f::max_cm_stream_bytes(count));
    out.resize(probe_cm_stream(codes.data(), count, shapes.data(), prior_bytes.data(), shape_storage.data(), prior.data(), cm_history.data(),
                               cm_weights.data(), residuals_cm.data(), symbols.data(), scratch_bytes.data(), out.data()));
    r.cm_stream = out;
  }
  return r;
}

SharedMathResults evaluate_shared_math_on_device(const std::vector<std::int32_t>& residuals, const std::vector<std::int16_t>& values,
                                                 const std::vector<std::uint32_t>& folded, const std::vector<std::int32_t>& codes) {
  const Sizes n = sizes_of(residuals, values, folded, codes);
  thrust::device_vector<std::int32_t> d_residuals(residuals.begin(), residuals.end());
  thrust::device_vector<std::int16_t> d_values(values.begin(), values.end());
  thrust::device_vector<std::uint32_t> d_folded(folded.begin(), folded.end());
  thrust::device_vector<std::uint32_t> d_zigzag(n.residuals);
  thrust::device_vector<std::int32_t> d_n1_codes(n.values);
  thrust::device_vector<std::int16_t> d_n1_values(1024);
  thrust::device_vector<std::int32_t> d_rice_bits(n.folded);
  thrust::device_vector<std::int32_t> d_parameters(n.partitions);
  thrust::device_vector<std::int32_t> d_golomb_bits(n.folded);
  thrust::device_vector<std::int32_t> d_golomb_index(n.partitions);
  const std::size_t total = std::max({n.residuals, n.values, n.folded, std::size_t{1024}});
  evaluate_kernel<<<static_cast<unsigned>((total + 255) / 256), 256>>>(n, raw(d_residuals), raw(d_values), raw(d_folded), raw(d_zigzag),
                                                                       raw(d_n1_codes), raw(d_n1_values), raw(d_rice_bits),
                                                                       raw(d_parameters), raw(d_golomb_bits), raw(d_golomb_index),
                                                                       total);
  SPIKEY_CUDA_TRY(cudaGetLastError());
  SharedMathResults r = sized_results(n);
  thrust::copy(d_zigzag.begin(), d_zigzag.end(), r.zigzag.begin());
  thrust::copy(d_n1_codes.begin(), d_n1_codes.end(), r.n1_codes.begin());
  thrust::copy(d_n1_values.begin(), d_n1_values.end(), r.n1_values.begin());
  thrust::copy(d_rice_bits.begin(), d_rice_bits.end(), r.rice_bits.begin());
  thrust::copy(d_parameters.begin(), d_parameters.end(), r.partition_parameter.begin());
  thrust::copy(d_golomb_bits.begin(), d_golomb_bits.end(), r.golomb_bits.begin());
  thrust::copy(d_golomb_index.begin(), d_golomb_index.end(), r.golomb_index.begin());
  if (!codes.empty()) {
    const auto count = static_cast<std::uint32_t>(codes.size());
    thrust::device_vector<std::int32_t> d_codes(codes.begin(), codes.end());
    thrust::device_vector<std::uint32_t> d_scratch(codes.size());
    thrust::device_vector<std::uint32_t> d_words(f::max_rice1_stream_words(count, kProbePartition));
    thrust::device_vector<std::uint32_t> d_word_count(1);
    encode_stream_kernel<<<1, 1>>>(raw(d_codes), count, raw(d_scratch), raw(d_words), raw(d_word_count));
    SPIKEY_CUDA_TRY(cudaGetLastError());
    SPIKEY_CUDA_TRY(cudaDeviceSynchronize());
    const std::uint32_t words = d_word_count[0];
    r.channel_stream.resize(words);
    thrust::copy(d_words.begin(), d_words.begin() + words, r.channel_stream.begin());

    thrust::device_vector<std::int32_t> d_history(f::lpc_history_buffer_size(count)), d_source(f::source_buffer_size(count));
    thrust::device_vector<std::int32_t> d_weights(13);
    thrust::device_vector<std::uint32_t> d_folded_lpc(count), d_lpc_words(f::max_golomb_stream_words(count, kProbePartition));
    thrust::device_vector<std::uint8_t> d_indices(count / kProbePartition + 2);
    lpc_stream_kernel<<<1, 1>>>(raw(d_codes), count, raw(d_history), raw(d_source), raw(d_weights), raw(d_folded_lpc), raw(d_indices),
                                raw(d_lpc_words), raw(d_word_count));
    SPIKEY_CUDA_TRY(cudaGetLastError());
    SPIKEY_CUDA_TRY(cudaDeviceSynchronize());
    const std::uint32_t lpc_words = d_word_count[0];
    r.lpc_stream.resize(lpc_words);
    thrust::copy(d_lpc_words.begin(), d_lpc_words.begin() + lpc_words, r.lpc_stream.begin());

    const auto shapes = probe_cm_shapes();
    const auto prior_bytes = probe_cm_prior();
    thrust::device_vector<f::CmShape> d_shapes(shapes.begin(), shapes.end());
    thrust::device_vector<std::uint8_t> d_prior_bytes(prior_bytes.begin(), prior_bytes.end());
    thrust::device_vector<std::uint16_t> d_shape_storage(f::kCmClasses * (f::kCmMaxHalfWidth + 1)), d_prior(64);
    thrust::device_vector<std::int32_t> d_cm_history(f::mo_history_buffer_size(count)), d_cm_weights(kCmProbeTaps), d_residuals_cm(count);
    thrust::device_vector<f::CmSymbol> d_symbols(f::max_cm_symbols(count));
    thrust::device_vector<std::uint8_t> d_scratch_bytes(f::max_cm_stream_bytes(count)), d_out(f::max_cm_stream_bytes(count));
    thrust::device_vector<std::uint64_t> d_size(1);
    cm_stream_kernel<<<1, 1>>>(raw(d_codes), count, raw(d_shapes), raw(d_prior_bytes), raw(d_shape_storage), raw(d_prior), raw(d_cm_history),
                               raw(d_cm_weights), raw(d_residuals_cm), raw(d_symbols), raw(d_scratch_bytes), raw(d_out), raw(d_size));
    SPIKEY_CUDA_TRY(cudaGetLastError());
    SPIKEY_CUDA_TRY(cudaDeviceSynchronize());
    const std::uint64_t cm_bytes = d_size[0];
    r.cm_stream.resize(cm_bytes);
    thrust::copy(d_out.begin(), d_out.begin() + static_cast<std::ptrdiff_t>(cm_bytes), r.cm_stream.begin());
  }
  return r;
}

}  // namespace spikey::cuda
