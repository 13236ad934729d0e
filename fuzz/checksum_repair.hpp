// Recomputes every checksum of a (mutated) archive so that fuzzed bytes reach the parsers and
// decoders behind them instead of stopping at the first checksum check. Only fields the
// structure lets it find are repaired; anything else is left for the reader to reject.
#pragma once
#include <cstdint>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/checksum.hpp"

namespace spikey::fuzz {

inline std::uint64_t load_u64(const std::vector<std::uint8_t>& b, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | b[at + static_cast<std::size_t>(i)];
  return v;
}
inline std::uint32_t load_u32(const std::vector<std::uint8_t>& b, std::size_t at) {
  return std::uint32_t{b[at]} | std::uint32_t{b[at + 1]} << 8 | std::uint32_t{b[at + 2]} << 16 | std::uint32_t{b[at + 3]} << 24;
}
inline void store_u64(std::vector<std::uint8_t>& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline std::uint64_t checksum_of(const std::vector<std::uint8_t>& b, std::size_t at, std::size_t size) {
  return format::checksum64(std::span<const std::uint8_t>(b.data() + at, size));
}

// Format-4 layout (SPEC.md §2–§3): header, metadata, frames + payloads, index, footer.
inline void repair_checksums(std::vector<std::uint8_t>& b) {
  using namespace format;
  if (b.size() < kFileHeaderSize + kFooterSize) return;
  const std::size_t footer = b.size() - kFooterSize;
  const std::uint64_t metadata_size = load_u64(b, 16);
  if (metadata_size <= footer - kFileHeaderSize) {
    store_u64(b, 24, checksum_of(b, kFileHeaderSize, metadata_size));
    // Chunk frames, as long as they chain up to the index.
    const std::uint64_t index_offset = load_u64(b, footer);
    std::uint64_t at = kFileHeaderSize + metadata_size;
    while (at + kChunkFrameSize <= footer && at + kChunkFrameSize <= index_offset && load_u32(b, at) == kChunkMagic) {
      const std::uint32_t payload = load_u32(b, at + 8);
      if (payload > footer - at - kChunkFrameSize) break;
      store_u64(b, at + 12, checksum_of(b, at + kChunkFrameSize, payload));
      at += kChunkFrameSize + payload;
    }
    if (index_offset <= footer) store_u64(b, footer + 16, checksum_of(b, index_offset, footer - index_offset));
  }
  store_u64(b, 32, checksum_of(b, 0, 32));
  store_u64(b, footer + 32, checksum_of(b, footer, 32));
}

}  // namespace spikey::fuzz
