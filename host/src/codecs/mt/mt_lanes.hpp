// The mt codecs' residuals for up to kLanes streams in lockstep (SPEC.md §6.9.6): one rANS step
// per lane, the lanes' table lookups done together (AVX2 gathers where the CPU has them), so
// that the decoder's entropy stage keeps pace with its lockstep prediction. Results equal
// mt_decode_residual's for every lane exactly; a lane whose symbol the central tables do not
// hold (an escape, a position past the table or past the probes) takes that reference
// path.
#pragma once

#include <cstdint>

#include "codecs/lanes/lanes.hpp"
#include "codecs/mt/mt_tables.hpp"

namespace spikey::host::lanes {

// The lanes' decoder states, lane by lane (the current segment of each stream).
struct MtLaneBatch {
  int lanes = 0;
  const codecs::MtTables* tables = nullptr;
  alignas(32) std::uint32_t state[kLanes] = {};
  alignas(32) std::int32_t scale[kLanes] = {};
  const std::uint8_t* bytes[kLanes] = {};
  alignas(32) std::uint32_t next[kLanes] = {};
  alignas(32) std::uint32_t count[kLanes] = {};
  bool overran[kLanes] = {};

  // A lane's state as a reference decoder, and back.
  format::RansDecoder decoder(int l) const {
    format::RansDecoder d;
    d.state = state[l], d.bytes = bytes[l], d.count = count[l], d.next = next[l], d.overran = overran[l];
    return d;
  }
  void take(int l, const format::RansDecoder& d) {
    state[l] = d.state, bytes[l] = d.bytes, count[l] = static_cast<std::uint32_t>(d.count), next[l] = static_cast<std::uint32_t>(d.next),
    overran[l] = d.overran;
  }
};

// One residual for each lane set in `live` given the lanes' predicted codes, and its scale moved
// on; the other lanes keep their state and get z = 0. Returns false on a malformed stream,
// naming the lane.
bool mt_decode_step(MtLaneBatch& batch, unsigned live, const std::int32_t* base, std::int32_t* z, int* failed_lane);
// The same step for two batches at once, their operations side by side (the lookups of both
// wait on memory together); live, base and z per batch. On a malformed stream returns false
// naming the batch (*failed_batch) and lane: batch 0's failure leaves batch 1 where it was,
// batch 1's comes after batch 0 has stepped.
bool mt_decode_steps(MtLaneBatch& a, MtLaneBatch& b, const unsigned* live, const std::int32_t* const* base, std::int32_t* const* z, int* failed_batch,
                     int* failed_lane);

}  // namespace spikey::host::lanes
