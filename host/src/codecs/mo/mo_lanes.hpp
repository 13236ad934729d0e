// mo1 prediction for up to 8 channels in lockstep (one SIMD lane per channel), the CPU fast path
// of the encoder's and decoder's prediction stage for level default. Results equal the scalar
// reference (mo_predictor.hpp) exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

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
  // mo_reconstruct_from only: lanes that run behind the group's clock, so that a channel and
  // the sources it is predicted from decode in one group. Lane l decodes its time t at the
  // group's step t + lag[l]; a source of lane l in the group (in_group_source[l][k] = its
  // lane + 1, 0 for a source given in `sources`) must run at least W + 1 steps ahead of it
  // (lag[l] >= lag[source] + W + 1), and its clamped differences reach lane l's window as
  // they are decoded.
  std::uint32_t lag[kLanes] = {};
  std::uint8_t in_group_source[kLanes][format::kMaxMoSources] = {};
};

void mo_reconstruct(const MoLaneGroup& group, const std::int32_t* first_code, const std::uint32_t* const* folded, std::int32_t* const* codes);
void mo_fold(const MoLaneGroup& group, const std::int32_t* const* codes, std::uint32_t* const* folded);

// The mt codecs: signed residuals z[t] = d[t] - p (t = 1..n-1; z[0] = 0) from known codes.
void mo_residuals(const MoLaneGroup& group, const std::int32_t* const* codes, std::int32_t* const* residuals);

// The mt codecs' decoder: at every step of the group's clock, once each lane's predicted code
// `base` is known, the source decodes the residuals of the lanes whose bit is set in `live`
// (lane l is at its time t = step - lag[l]; the others get z = 0), interleaving entropy decoding
// with prediction, since the coder's context depends on the prediction. Returns false when
// the source fails.
class MoResidualSource {
 public:
  virtual ~MoResidualSource() = default;
  virtual bool residuals(std::uint32_t step, unsigned live, const std::int32_t* base, std::int32_t* z) = 0;  // kLanes each
  // This source's step and `other`'s (a second group's), live, base and z per source; a source
  // may do both at once. False when one fails: *which = 0 (this one; `other` has not stepped)
  // or 1 (`other`, after this one stepped).
  virtual bool residuals_with(MoResidualSource& other, std::uint32_t step, const unsigned* live, const std::int32_t* const* base, std::int32_t* const* z,
                              int* which) {
    if (!residuals(step, live[0], base[0], z[0])) return *which = 0, false;
    if (!other.residuals(step, live[1], base[1], z[1])) return *which = 1, false;
    return true;
  }
};
// One group's decoding: its first codes, its source, its codes' columns (n each), and whether
// it decoded (false: its source failed).
struct MoGroupDecoding {
  const MoLaneGroup* group = nullptr;
  const std::int32_t* first_code = nullptr;
  MoResidualSource* source = nullptr;
  std::int32_t* const* codes = nullptr;
  bool ok = false;
};
// One or two groups (kMaxGroupsAtOnce) on this thread, their steps interleaved, so that the
// table lookups of two groups' entropy decoders (residuals_with) wait on memory together. Each
// group's codes are exactly those it gets alone; a group whose source fails stops, the other
// goes on.
inline constexpr std::size_t kMaxGroupsAtOnce = 2;
void mo_reconstruct_from(std::span<MoGroupDecoding> groups);
// One group.
inline bool mo_reconstruct_from(const MoLaneGroup& group, const std::int32_t* first_code, MoResidualSource& source, std::int32_t* const* codes) {
  MoGroupDecoding one{&group, first_code, &source, codes};
  mo_reconstruct_from(std::span<MoGroupDecoding>(&one, 1));
  return one.ok;
}

}  // namespace spikey::host::lanes
