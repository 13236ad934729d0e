// mo1 prediction for up to 8 channels in lockstep (one SIMD lane per channel), the CPU fast path
// of the encoder's and decoder's prediction stage for level default. Results equal the scalar
// reference (mo_predictor.hpp) exactly.
#pragma once

#include <cstdint>

#include "spikey/format/codecs/mo/mo_predictor.hpp"
#include "codecs/lpc/lpc_lanes.hpp"

namespace spikey::host::lanes {

// A group of channels with the same sample count n in one chunk. All lanes share the codec's
// wavelet levels and source half window.
struct MoLaneGroup {
  int lanes = 0;
  std::uint32_t n = 0;
  format::MoModel model[kLanes];                    // per lane; lms_step is the effective step
  const std::int32_t* weights[kLanes] = {};          // model.taps() stored weights
  const std::int32_t* sources[kLanes][format::kMaxMoSources] = {};  // filled source buffers
};

void mo_reconstruct(const MoLaneGroup& group, const std::int32_t* first_code, const std::uint32_t* const* folded, std::int32_t* const* codes);
void mo_fold(const MoLaneGroup& group, const std::int32_t* const* codes, std::uint32_t* const* folded);

// The mt codecs: signed residuals z[t] = d[t] - p (t = 1..n-1; z[0] = 0) from known codes.
void mo_residuals(const MoLaneGroup& group, const std::int32_t* const* codes, std::int32_t* const* residuals);

// The mt codecs' decoder: at every step t >= 1, once each lane's predicted code `base` is known,
// the source decodes the lanes' residuals (entropy decoding interleaved with prediction, since
// the coder's context depends on the prediction). Returns false when the source fails.
class MoResidualSource {
 public:
  virtual ~MoResidualSource() = default;
  virtual bool residuals(std::uint32_t t, const std::int32_t* base, std::int32_t* z) = 0;  // kLanes each
};
bool mo_reconstruct_from(const MoLaneGroup& group, const std::int32_t* first_code, MoResidualSource& source, std::int32_t* const* codes);

}  // namespace spikey::host::lanes
