// Recomputes every checksum of a (mutated) archive so that fuzzed bytes reach the parsers and
// decoders behind them instead of stopping at the first checksum check. Only fields the
// structure lets it find are repaired; anything else is left for the reader to reject.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/wire.hpp"

namespace spikey::fuzz {

inline std::uint64_t checksum_of(const std::vector<std::uint8_t>& b, std::size_t at, std::size_t size) {
  return format::checksum64(std::span<const std::uint8_t>(b.data() + at, size));
}

// Format-4 layout (SPEC.md §2–§3): header, metadata, frames + payloads, (version 10: metadata copy,)
// index, footer.
inline void repair_checksums(std::vector<std::uint8_t>& b) {
  using namespace format;
  if (b.size() < kFileHeaderSize + kFooterSize) return;
  const std::size_t footer = b.size() - kFooterSize;
  const std::uint64_t metadata_size = format::load_u64_le(b.data() + 16);
  if (metadata_size <= footer - kFileHeaderSize) {
    format::store_u64_le(b.data() + 24, checksum_of(b, kFileHeaderSize, metadata_size));
    // Chunk frames, as long as they chain up to the index.
    const std::uint64_t index_offset = format::load_u64_le(b.data() + footer);
    std::uint64_t at = kFileHeaderSize + metadata_size;
    while (at + kChunkFrameSize <= footer && at + kChunkFrameSize <= index_offset && format::load_u32_le(b.data() + at) == kChunkMagic) {
      const std::uint32_t payload = format::load_u32_le(b.data() + at + 8);
      if (payload > footer - at - kChunkFrameSize) break;
      format::store_u64_le(b.data() + at + 12, checksum_of(b, at + kChunkFrameSize, payload));
      at += kChunkFrameSize + payload;
    }
    // Version 10's metadata copy (§3.7): the trailer that ends at the index vouches for the copy
    // before it. Stream checks (§6.3) stay as they are: they are checks of decoded samples, so
    // mutated streams still run through every decoder before their check fails.
    if (index_offset <= footer && index_offset >= at + kMetadataTrailerSize &&
        std::equal(kMetadataCopyMagic.begin(), kMetadataCopyMagic.end(), b.data() + index_offset - 8)) {
      const std::uint64_t copy_size = format::load_u64_le(b.data() + index_offset - kMetadataTrailerSize);
      if (copy_size <= index_offset - kMetadataTrailerSize - at)
        format::store_u64_le(b.data() + index_offset - 16, checksum_of(b, index_offset - kMetadataTrailerSize - copy_size, copy_size));
    }
    if (index_offset <= footer) format::store_u64_le(b.data() + footer + 16, checksum_of(b, index_offset, footer - index_offset));
  }
  format::store_u64_le(b.data() + 32, checksum_of(b, 0, 32));
  format::store_u64_le(b.data() + footer + 32, checksum_of(b, footer, 32));
}

}  // namespace spikey::fuzz
