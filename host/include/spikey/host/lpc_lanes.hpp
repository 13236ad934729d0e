// lpc1 prediction for up to 8 channels in lockstep (one SIMD lane per channel): the CPU fast
// path of the encoder's and decoder's prediction stage. Results equal the scalar reference in
// lpc_stream.hpp exactly (integer sums in another order, with the same overflow bound).
#pragma once

#include <cstdint>

#include "spikey/format/lpc_stream.hpp"

namespace spikey::host::lanes {

inline constexpr int kLanes = 8;

// A group of channels with the same sample count n in one chunk.
struct LaneGroup {
  int lanes = 0;                   // active lanes, 1..kLanes
  std::uint32_t n = 0;             // samples per channel (>= 1)
  int weight_shift = 12;
  format::LpcModel model[kLanes];  // per lane; lms_step is the effective step (0 when not adapting)
  const std::int32_t* weights[kLanes] = {};        // model.taps() stored weights
  const std::int32_t* source_buffer[kLanes] = {};  // filled lpc source buffer when the lane has a source
};

// Decoder: codes[l][0..n-1] from first_code[l] and folded[l][0..n-2].
void reconstruct(const LaneGroup& group, const std::int32_t* first_code, const std::uint32_t* const* folded,
                 std::int32_t* const* codes);

// Encoder: folded[l][0..n-2] from codes[l][0..n-1].
void fold(const LaneGroup& group, const std::int32_t* const* codes, std::uint32_t* const* folded);

// The instruction set the kernels run with here ("avx2" or "generic").
const char* instruction_set();

}  // namespace spikey::host::lanes
