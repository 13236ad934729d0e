// The heads of a stream's residuals (format::mt_residual_head) for the CPU's chunk encoder, in a
// pass of their own before the sequential rANS pass, as the GPU's batch stages find them: each
// head depends on its residual alone, so the pass runs in vector lanes, and the rANS pass that
// follows only puts symbols.
#pragma once

#include <cstdint>

#include "codecs/mt/mt_tables.hpp"

namespace spikey::host::codecs {

// heads[t - first] = format::mt_residual_head(tables.set(), classes[t], mt_base(codes, z, t), z[t])
// for t in [first, end): a segment's heads at a time, so that the buffer stays small.
void mt_find_heads(const MtTables& tables, const std::int32_t* codes, const std::int32_t* z, const std::uint8_t* classes, std::uint32_t first,
                   std::uint32_t end, std::uint32_t* heads);

}  // namespace spikey::host::codecs
