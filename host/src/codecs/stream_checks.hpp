// Sanity checks of a chunk's stream sizes before anything is allocated for them: a hostile
// payload must not make the decoder reserve memory its streams cannot fill.
#pragma once

#include "codecs/decoder_family.hpp"
#include "spikey/format/codecs/common/partitions.hpp"

namespace spikey::host::codecs {

// Streams that start with the first code and code every later sample in at least one bit
// (the Rice and Golomb streams).
inline void require_warmup_and_a_bit_per_sample(const ChunkDecodeJob& job) {
  for (std::size_t p = 0; p < job.present->channel.size(); ++p) {
    if (!(*job.needed)[p]) continue;
    const std::uint64_t size = job.dir->stream_size[p];
    if (size * 8 < format::kWarmupBits || job.present->sample_count[p] - 1 > size * 8) throw job.stream_error(p, "stream too short for its samples");
  }
}

}  // namespace spikey::host::codecs
