// Runs the shared host/device format math (container_format/include/spikey/format) inside a
// kernel, so tests can compare device results with the same functions run on the host.
// Plain C++ interface; the implementation is in shared_math_probe.cu.
#pragma once

#include <cstdint>
#include <vector>

namespace spikey::cuda {

struct SharedMathResults {
  std::vector<std::uint32_t> zigzag;              // zigzag_encode(residuals[i])
  std::vector<std::int32_t> n1_codes;             // value_to_code(n1, values[i])
  std::vector<std::int16_t> n1_values;            // code_to_value(n1, i) for i in 0..1023
  std::vector<std::int32_t> rice_bits;            // rice_codeword_bits(folded[i], i % 25)
  std::vector<std::int32_t> partition_parameter;  // rice_parameter_for_partition over runs of 256 folded values
  std::vector<std::uint32_t> channel_stream;      // encode_rice1_stream(codes, codes.size(), 256)
  std::vector<std::int32_t> golomb_bits;          // golomb_codeword_bits(folded[i], i % 49)
  std::vector<std::int32_t> golomb_index;         // golomb_index_for_partition over runs of 256 folded values
  std::vector<std::uint32_t> lpc_stream;          // lpc1 stream of `codes`: 8 taps, a source window, LMS
  std::vector<std::uint8_t> cm_stream;            // cm1 stream of `codes` (probe model: 8 taps, LMS, shapes and a prior)
};

// Evaluates everything on the host (reference) or on CUDA device 0.
SharedMathResults evaluate_shared_math_on_host(const std::vector<std::int32_t>& residuals, const std::vector<std::int16_t>& values,
                                               const std::vector<std::uint32_t>& folded, const std::vector<std::int32_t>& codes);
SharedMathResults evaluate_shared_math_on_device(const std::vector<std::int32_t>& residuals, const std::vector<std::int16_t>& values,
                                                 const std::vector<std::uint32_t>& folded, const std::vector<std::int32_t>& codes);

}  // namespace spikey::cuda
