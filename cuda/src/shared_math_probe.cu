#include <thrust/copy.h>
#include <thrust/device_vector.h>

#include <algorithm>

#include "spikey/cuda/cuda_check.cuh"
#include "spikey/cuda/shared_math_probe.hpp"
#include "spikey/format/channel_stream.hpp"
#include "spikey/format/rice.hpp"
#include "spikey/format/value_map.hpp"
#include "spikey/format/zigzag.hpp"

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
                            std::int32_t* rice_bits, std::int32_t* partition_parameter) {
  const f::ValueMap n1{f::ValueMapKind::n1_10bit};
  if (i < n.residuals) zigzag[i] = f::zigzag_encode(residuals[i]);
  if (i < n.values) n1_codes[i] = f::value_to_code(n1, values[i]);
  if (i < 1024) n1_values[i] = f::code_to_value(n1, static_cast<std::int32_t>(i));
  if (i < n.folded) rice_bits[i] = f::rice_codeword_bits(folded[i], static_cast<int>(i % (f::kMaxRiceParameter + 1)));
  if (i < n.partitions) {
    const std::size_t start = i * kProbePartition;
    const std::size_t count = n.folded - start < kProbePartition ? n.folded - start : kProbePartition;
    partition_parameter[i] = f::rice_parameter_for_partition(folded + start, static_cast<int>(count));
  }
}

__global__ void evaluate_kernel(Sizes n, const std::int32_t* residuals, const std::int16_t* values, const std::uint32_t* folded,
                                std::uint32_t* zigzag, std::int32_t* n1_codes, std::int16_t* n1_values, std::int32_t* rice_bits,
                                std::int32_t* partition_parameter, std::size_t total) {
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x)
    evaluate_one(i, n, residuals, values, folded, zigzag, n1_codes, n1_values, rice_bits, partition_parameter);
}

// The sequential stream encoder in one thread: proves the whole stream path compiles and
// matches on the device (the parallel encoder of the CUDA backend must produce these bytes).
__global__ void encode_stream_kernel(const std::int32_t* codes, std::uint32_t count, std::uint32_t* scratch, std::uint32_t* words,
                                     std::uint32_t* word_count) {
  *word_count = f::encode_channel_stream(codes, count, kProbePartition, scratch, words);
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
                 r.rice_bits.data(), r.partition_parameter.data());
  if (!codes.empty()) {
    std::vector<std::uint32_t> scratch(codes.size());
    r.channel_stream.resize(f::max_channel_stream_words(static_cast<std::uint32_t>(codes.size()), kProbePartition));
    r.channel_stream.resize(f::encode_channel_stream(codes.data(), static_cast<std::uint32_t>(codes.size()), kProbePartition,
                                                     scratch.data(), r.channel_stream.data()));
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
  const std::size_t total = std::max({n.residuals, n.values, n.folded, std::size_t{1024}});
  evaluate_kernel<<<static_cast<unsigned>((total + 255) / 256), 256>>>(n, raw(d_residuals), raw(d_values), raw(d_folded), raw(d_zigzag),
                                                                       raw(d_n1_codes), raw(d_n1_values), raw(d_rice_bits),
                                                                       raw(d_parameters), total);
  SPIKEY_CUDA_TRY(cudaGetLastError());
  SharedMathResults r = sized_results(n);
  thrust::copy(d_zigzag.begin(), d_zigzag.end(), r.zigzag.begin());
  thrust::copy(d_n1_codes.begin(), d_n1_codes.end(), r.n1_codes.begin());
  thrust::copy(d_n1_values.begin(), d_n1_values.end(), r.n1_values.begin());
  thrust::copy(d_rice_bits.begin(), d_rice_bits.end(), r.rice_bits.begin());
  thrust::copy(d_parameters.begin(), d_parameters.end(), r.partition_parameter.begin());
  if (!codes.empty()) {
    const auto count = static_cast<std::uint32_t>(codes.size());
    thrust::device_vector<std::int32_t> d_codes(codes.begin(), codes.end());
    thrust::device_vector<std::uint32_t> d_scratch(codes.size());
    thrust::device_vector<std::uint32_t> d_words(f::max_channel_stream_words(count, kProbePartition));
    thrust::device_vector<std::uint32_t> d_word_count(1);
    encode_stream_kernel<<<1, 1>>>(raw(d_codes), count, raw(d_scratch), raw(d_words), raw(d_word_count));
    SPIKEY_CUDA_TRY(cudaGetLastError());
    SPIKEY_CUDA_TRY(cudaDeviceSynchronize());
    const std::uint32_t words = d_word_count[0];
    r.channel_stream.resize(words);
    thrust::copy(d_words.begin(), d_words.begin() + words, r.channel_stream.begin());
  }
  return r;
}

}  // namespace spikey::cuda
