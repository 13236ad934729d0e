// Transposing 16-bit samples between interleaved frames and channel rows, both ways: the encoder
// gathers a file's frames into rows (Recording::gather), the decoder interleaves rows back into
// the file's frames (restore, verify).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace spikey::host {

// out[c * out_stride + r] = in[r * in_stride + c] for r < rows, c < columns (strides in values).
// `in` is bytes: a mapped file's frames need not be 2-byte aligned. In blocks of 8 x 8,
// transposed in registers (eight 16-byte loads and stores instead of 64 two-byte copies); the
// edges one by one.
inline void transpose_int16(const std::uint8_t* in, std::size_t in_stride, std::size_t rows, std::size_t columns, std::int16_t* out,
                            std::size_t out_stride) {
  std::size_t row_blocks = 0, column_blocks = 0;
#if defined(__SSE2__)
  row_blocks = rows / 8 * 8;
  column_blocks = columns / 8 * 8;
  for (std::size_t c = 0; c < column_blocks; c += 8)
    for (std::size_t r = 0; r < row_blocks; r += 8) {
      const std::uint8_t* block = in + (r * in_stride + c) * 2;
      const auto row = [&](std::size_t i) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + i * in_stride * 2)); };
      const __m128i r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5), r6 = row(6), r7 = row(7);
      // Pairs of rows, then quads, then all eight: column i of the block ends in register i.
      const __m128i a0 = _mm_unpacklo_epi16(r0, r1), a1 = _mm_unpackhi_epi16(r0, r1), a2 = _mm_unpacklo_epi16(r2, r3),
                    a3 = _mm_unpackhi_epi16(r2, r3), a4 = _mm_unpacklo_epi16(r4, r5), a5 = _mm_unpackhi_epi16(r4, r5),
                    a6 = _mm_unpacklo_epi16(r6, r7), a7 = _mm_unpackhi_epi16(r6, r7);
      const __m128i b0 = _mm_unpacklo_epi32(a0, a2), b1 = _mm_unpackhi_epi32(a0, a2), b2 = _mm_unpacklo_epi32(a1, a3),
                    b3 = _mm_unpackhi_epi32(a1, a3), b4 = _mm_unpacklo_epi32(a4, a6), b5 = _mm_unpackhi_epi32(a4, a6),
                    b6 = _mm_unpacklo_epi32(a5, a7), b7 = _mm_unpackhi_epi32(a5, a7);
      const __m128i transposed[8] = {_mm_unpacklo_epi64(b0, b4), _mm_unpackhi_epi64(b0, b4), _mm_unpacklo_epi64(b1, b5), _mm_unpackhi_epi64(b1, b5),
                                     _mm_unpacklo_epi64(b2, b6), _mm_unpackhi_epi64(b2, b6), _mm_unpacklo_epi64(b3, b7), _mm_unpackhi_epi64(b3, b7)};
      for (std::size_t i = 0; i < 8; ++i) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (c + i) * out_stride + r), transposed[i]);
    }
#endif
  for (std::size_t c = 0; c < columns; ++c) {
    std::int16_t* column = out + c * out_stride;
    const std::uint8_t* source = in + c * 2;
    for (std::size_t r = c < column_blocks ? row_blocks : 0; r < rows; ++r) std::memcpy(column + r, source + r * in_stride * 2, 2);
  }
}

}  // namespace spikey::host
