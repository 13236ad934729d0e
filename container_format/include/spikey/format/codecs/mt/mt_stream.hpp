// The stream of codecs mt1-mt3 (SPEC.md §6.9.6): one channel's symbols in one chunk as rANS
// segments of at most S = codec.partition_size residuals each, so that an encoder codes the
// segments of all streams in parallel (each segment is an rANS run of its own).
//
//   directory  the byte size of every segment but the last, LEB128 (the last takes the rest)
//   segments   each: its initial decoder state (u32, little-endian), then its rANS bytes
//
// Segment 0 holds the adapt flag (1 raw bit), the first code u[0] (an integer) and residuals
// t = 1 .. S; segment i > 0 residuals t = i*S + 1 .. (i+1)*S. A stream of n samples has
// max(1, ceil((n-1) / S)) segments. Each segment ends in state kRansLow with every byte read.
#pragma once

#include "spikey/format/codecs/cm/rans.hpp"
#include "spikey/format/hd.hpp"

namespace spikey::format {

inline constexpr std::uint32_t kMtSegmentStateBytes = 4;
inline constexpr std::uint32_t kMtMaxSegmentSizeBytes = 5;  // a LEB128 size field, < 2^32

SPIKEY_HD std::uint32_t mt_segment_count(std::uint32_t n, std::uint32_t segment_residuals) {
  const std::uint32_t residuals = n > 0 ? n - 1 : 0;
  const std::uint32_t segments = (residuals + segment_residuals - 1) / segment_residuals;
  return segments == 0 ? 1 : segments;
}

// The residuals t of segment i: [first, end).
SPIKEY_HD std::uint32_t mt_segment_first(std::uint32_t i, std::uint32_t segment_residuals) { return i * segment_residuals + 1; }
SPIKEY_HD std::uint32_t mt_segment_end(std::uint32_t i, std::uint32_t n, std::uint32_t segment_residuals) {
  const std::uint64_t end = std::uint64_t{i + 1} * segment_residuals + 1;
  return end < n ? static_cast<std::uint32_t>(end) : n;
}

// Bounds for buffers: symbols of one segment (a residual has at most 4; segment 0 has the
// flag and up to 3 for the first code besides), and its bytes (a symbol emits at most 2).
SPIKEY_HD std::uint64_t mt_max_segment_symbols(std::uint32_t residuals) { return 4 + 4 * std::uint64_t{residuals}; }
SPIKEY_HD std::uint64_t mt_max_segment_bytes(std::uint32_t residuals) { return kMtSegmentStateBytes + 2 * mt_max_segment_symbols(residuals); }

// Codes a segment's symbols (in decoding order) into `out`: its state, then its bytes. `scratch`
// holds mt_max_segment_bytes(residuals) bytes, `out` as many. Returns the segment's size.
SPIKEY_HD std::uint64_t mt_encode_segment(const CmSymbol* symbols, std::uint64_t count, std::uint8_t* scratch, std::uint64_t scratch_size,
                                          std::uint8_t* out) {
  std::uint8_t* const end = scratch + scratch_size;
  RansEncoder rans{kRansLow, end};
  for (std::uint64_t i = count; i-- > 0;) rans.put(symbols[i].cum, symbols[i].freq);
  for (std::uint32_t b = 0; b < kMtSegmentStateBytes; ++b) out[b] = static_cast<std::uint8_t>(rans.state >> (8 * b));
  std::uint8_t* p = out + kMtSegmentStateBytes;
  for (const std::uint8_t* b = rans.cursor; b != end; ++b) *p++ = *b;
  return static_cast<std::uint64_t>(p - out);
}

// Starts decoding a segment of `size` bytes at `data`; false when it is too short or its state
// is out of range.
SPIKEY_HD bool mt_start_segment(const std::uint8_t* data, std::uint64_t size, RansDecoder& rans) {
  if (size < kMtSegmentStateBytes) return false;
  rans.state = 0;
  for (std::uint32_t b = 0; b < kMtSegmentStateBytes; ++b) rans.state |= std::uint32_t{data[b]} << (8 * b);
  rans.bytes = data + kMtSegmentStateBytes;
  rans.count = size - kMtSegmentStateBytes;
  rans.next = 0;
  rans.overran = false;
  return rans.state >= kRansLow;
}

}  // namespace spikey::format
