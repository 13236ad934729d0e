// The encoder's last step for the Golomb-coded codecs (lpc1, mo1-mo3): a channel's stream from
// its residuals with fixed and with adapting weights, keeping whichever costs less.
#pragma once

#include <cstdint>
#include <vector>

#include "codecs/lanes/lanes.hpp"

namespace spikey::host::codecs {

// Whether a stream codes its residuals with adapting weights: when their folded residuals sum
// to less than the fixed weights' (a close, much cheaper proxy for the coded size). The
// encoder's choice, and lpc1's training's test of whether a channel's LMS step pays.
bool adapting_folds_smaller(const std::uint32_t* fixed, const std::uint32_t* adapted, std::uint32_t n);

// The stream of one channel in one chunk of n samples (first code, then n-1 folded residuals).
// `adapted` is null when the predictor does not adapt; otherwise the adapt flag follows
// adapting_folds_smaller.
void encode_golomb_stream_choosing_weights(std::int32_t first_code, const std::uint32_t* fixed, const std::uint32_t* adapted, std::uint32_t n,
                                           std::uint32_t partition_size, std::vector<std::uint8_t>& stream);

// Folds a lockstep lane group (lpc1 or mo) with adapting weights (where a lane's model has an
// LMS step: none, no such pass) and with fixed ones, then calls visit(l, fixed, adapted or
// null) for each lane. `fold(group, codes, folded)` is the family's lockstep kernel.
template <class Group, class Fold, class Visit>
void fold_lane_group(Group& group, Fold&& fold, const std::int32_t* const* codes, Visit&& visit) {
  thread_local std::vector<std::uint32_t> fixed[lanes::kLanes], adapted[lanes::kLanes];
  std::uint32_t* out_fixed[lanes::kLanes] = {};
  std::uint32_t* out_adapted[lanes::kLanes] = {};
  bool adapts[lanes::kLanes] = {};
  bool any_step = false;
  for (int l = 0; l < group.lanes; ++l) {
    adapts[l] = group.model[l].lms_step != 0;
    any_step |= adapts[l];
    fixed[l].resize(group.n);
    adapted[l].resize(group.n);
    out_fixed[l] = fixed[l].data();
    out_adapted[l] = adapted[l].data();
  }
  if (any_step) fold(group, codes, out_adapted);
  for (int l = 0; l < group.lanes; ++l) group.model[l].lms_step = 0;
  fold(group, codes, out_fixed);
  for (int l = 0; l < group.lanes; ++l) visit(l, fixed[l].data(), adapts[l] ? adapted[l].data() : nullptr);
}

// A lane group's streams, each from whichever weights cost less.
template <class Group, class Fold>
void encode_lane_group(Group& group, Fold&& fold, const std::int32_t* const* codes, std::uint32_t partition_size,
                       std::vector<std::uint8_t>* const* streams) {
  fold_lane_group(group, fold, codes, [&](int l, const std::uint32_t* fixed, const std::uint32_t* adapted) {
    encode_golomb_stream_choosing_weights(codes[l][0], fixed, adapted, group.n, partition_size, *streams[l]);
  });
}

}  // namespace spikey::host::codecs
