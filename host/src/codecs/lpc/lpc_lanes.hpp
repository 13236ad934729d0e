// lpc1 prediction for up to kLanes channels in lockstep (one SIMD lane per channel): the CPU
// fast path of the encoder's and decoder's prediction stage. Results equal the scalar reference
// in lpc_predictor.hpp exactly (integer sums in another order, with the same overflow bound).
#pragma once

#include <cstdint>

#include "codecs/lanes/lanes.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"

namespace spikey::host::lanes {

// A group of channels with the same sample count n in one chunk.
struct LpcLaneGroup {
  int lanes = 0;                   // active lanes, 1..kLanes
  std::uint32_t n = 0;             // samples per channel (>= 1)
  int weight_shift = 12;
  format::LpcModel model[kLanes];  // per lane; lms_step is the effective step (0 when not adapting)
  const std::int32_t* weights[kLanes] = {};        // model.taps() stored weights
  const std::int32_t* source_buffer[kLanes] = {};  // filled source buffer when the lane has a source
};

// Decoder: codes[l][0..n-1] from first_code[l] and folded[l][0..n-2].
void lpc_reconstruct(const LpcLaneGroup& group, const std::int32_t* first_code, const std::uint32_t* const* folded,
                     std::int32_t* const* codes);

// Encoder: folded[l][0..n-2] from codes[l][0..n-1].
void lpc_fold(const LpcLaneGroup& group, const std::int32_t* const* codes, std::uint32_t* const* folded);

}  // namespace spikey::host::lanes
