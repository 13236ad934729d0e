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
#include "spikey/format/codecs/mt/mt_model.hpp"
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

// Encoding, as every encoder does it (the chunk encoder and both executors of the batch stages):
// first each residual's scale class in one pass over the stream (the scale runs on across
// segments), then every segment on its own, backwards, into a buffer of its own.

// classes[t] for t = 1 .. n-1: the class of the scale before residual t (cm_class_of).
// The residuals are read kMtClassesAhead at a time before any class is stored: the scale chain
// is sequential, and a GPU runs a stream per thread, so the loads must overlap one another.
inline constexpr std::uint32_t kMtClassesAhead = 8;
SPIKEY_HD void mt_residual_classes(const std::int32_t* z, std::uint32_t n, int scale_rate, std::uint8_t* classes) {
  std::int32_t scale = kCmScaleStart;
  for (std::uint32_t t = 1; t < n; t += kMtClassesAhead) {
    std::int32_t ahead[kMtClassesAhead];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (std::uint32_t k = 0; k < kMtClassesAhead; ++k) ahead[k] = t + k < n ? z[t + k] : 0;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (std::uint32_t k = 0; k < kMtClassesAhead; ++k) {
      if (t + k >= n) break;
      classes[t + k] = static_cast<std::uint8_t>(cm_class_of(scale));
      scale = cm_next_scale(scale, ahead[k], scale_rate);
    }
  }
}

// Puts `count` symbols (in decoding order) into the encoder of a segment (whose buffer keeps
// room for its state below the bytes: put_with_headroom): rANS codes backwards.
SPIKEY_HD void mt_put_symbols(RansEncoder& rans, const CmSymbol* symbols, int count) {
  for (int i = count; i-- > 0;) rans.put_with_headroom(symbols[i].cum, symbols[i].freq);
}

// Ends a segment whose bytes run from rans.cursor: its state goes in front of them. Returns
// the segment's first byte.
SPIKEY_HD std::uint8_t* mt_finish_segment(RansEncoder& rans) {
  std::uint8_t* first = rans.cursor - kMtSegmentStateBytes;
  for (std::uint32_t b = 0; b < kMtSegmentStateBytes; ++b) first[b] = static_cast<std::uint8_t>(rans.state >> (8 * b));
  return first;
}

// A residual's head: its bucket symbol packed as cum | freq << 16 (both below 2^16: an escape
// takes 16 of the 2^16), or 0 when it takes the escape. The heads of a stream do not depend on
// one another (unlike the rANS state), so a GPU finds them all in parallel and the sequential
// segment pass (mt_put_residual) then needs no table lookups for all but escaped residuals.
SPIKEY_HD std::uint32_t mt_residual_head(const MtTableSet& tables, int k, std::int32_t base, std::int32_t z) {
  CmSymbol bucket;
  if (!mt_bucket_symbol(mt_table_of(tables, k, base), z, bucket)) return 0;
  return bucket.cum | (bucket.freq << 16);
}

// Puts residual z (head from mt_residual_head, `shift` its class's) into the encoder. A head of
// 0 is the escape, which needs no table.
SPIKEY_HD void mt_put_residual(RansEncoder& rans, int shift, std::int32_t z, std::uint32_t head) {
  if (head != 0) {
    if (shift != 0) {
      const CmSymbol low = mt_low_bits_symbol(z, shift);
      rans.put_with_headroom(low.cum, low.freq);  // rANS codes backwards: the low bits before their bucket
    }
    rans.put_with_headroom(head & 0xffffu, head >> 16);
    return;
  }
  CmSymbol symbols[4];
  mt_put_symbols(rans, symbols, cm_escape_symbols(z, symbols));
}

// The predicted code of residual t (the table's phase): u[t] - z[t].
SPIKEY_HD std::int32_t mt_base(const std::int32_t* codes, const std::int32_t* z, std::uint32_t t) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(codes[t]) - static_cast<std::uint32_t>(z[t]));
}

// What segment 0 holds before its residuals, put after them (rANS codes backwards): the adapt
// flag and the first code u[0].
SPIKEY_HD void mt_put_stream_start(RansEncoder& rans, const std::int32_t* codes, bool adapt) {
  CmSymbol symbols[4];
  symbols[0] = cm_raw_symbol(adapt ? 1u : 0u, 1);
  mt_put_symbols(rans, symbols, 1 + cm_integer_symbols(codes[0], symbols + 1));
}

// Codes segment i of a stream of n samples (codes u, residuals z and classes of t = 1 .. n-1,
// the adapt flag) into the last bytes of `buffer`, which holds `capacity` >=
// mt_max_segment_bytes(residuals of the segment) bytes. `heads` holds each residual's
// mt_residual_head at t, or is null (then they are found here). Returns the offset in `buffer`
// of the segment's first byte; the segment ends at buffer + capacity. The residuals are read
// kMtSegmentAhead at a time before they are coded, so that a GPU thread's loads overlap.
inline constexpr std::uint32_t kMtSegmentAhead = 8;
SPIKEY_HD std::uint64_t mt_encode_segment(const MtTableSet& tables, const std::int32_t* codes, const std::int32_t* z, const std::uint8_t* classes,
                                          const std::uint32_t* heads, std::uint32_t n, bool adapt, std::uint32_t segment_residuals, std::uint32_t i,
                                          std::uint8_t* buffer, std::uint64_t capacity) {
  RansEncoder rans{kRansLow, buffer + capacity};
  const std::uint32_t first = mt_segment_first(i, segment_residuals), end = mt_segment_end(i, n, segment_residuals);
  for (std::uint32_t t = end; t > first;) {  // backwards: residuals t-1, t-2, ...
    std::int32_t residual[kMtSegmentAhead];
    std::uint32_t head[kMtSegmentAhead];
    int shift[kMtSegmentAhead];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (std::uint32_t k = 0; k < kMtSegmentAhead; ++k) {
      if (t - first <= k) break;
      const std::uint32_t at = t - 1 - k;
      const int c = classes[at];
      residual[k] = z[at];
      shift[k] = tables.shift[c];
      head[k] = heads != nullptr ? heads[at] : mt_residual_head(tables, c, mt_base(codes, z, at), residual[k]);
    }
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (std::uint32_t k = 0; k < kMtSegmentAhead; ++k) {
      if (t - first <= k) break;
      mt_put_residual(rans, shift[k], residual[k], head[k]);
    }
    t = t - first > kMtSegmentAhead ? t - kMtSegmentAhead : first;
  }
  if (i == 0) mt_put_stream_start(rans, codes, adapt);
  return static_cast<std::uint64_t>(mt_finish_segment(rans) - buffer);
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
