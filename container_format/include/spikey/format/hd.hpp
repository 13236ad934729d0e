// Host/device portability for the format-defining math.
//
// Every function that decides archive bytes (value maps, prediction, Rice coding,
// bit packing) is written once in these headers and compiled both by the host
// compiler (CPU reference encoder/decoder) and by nvcc (CUDA encoder).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define SPIKEY_HD __host__ __device__ __forceinline__
#else
#define SPIKEY_HD inline
#endif

namespace spikey::format {

// Number of trailing zero bits of a non-zero 64-bit word. Result for 0 is 64.
SPIKEY_HD int count_trailing_zeros64(std::uint64_t word) {
#if defined(__CUDA_ARCH__)
  return word == 0 ? 64 : __ffsll(static_cast<long long>(word)) - 1;
#else
  return word == 0 ? 64 : __builtin_ctzll(word);
#endif
}

// Index of the highest set bit plus one (0 for 0): the number of bits needed to hold `value`.
SPIKEY_HD int bit_width32(std::uint32_t value) {
#if defined(__CUDA_ARCH__)
  return 32 - __clz(static_cast<int>(value));
#else
  return value == 0 ? 0 : 32 - __builtin_clz(value);
#endif
}

SPIKEY_HD std::uint64_t low_bit_mask64(int bit_count) {
  // bit_count in [0, 64].
  return bit_count >= 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << bit_count) - 1);
}

// Unsigned LEB128 (7 bits per byte, low group first, the high bit on all but the last byte):
// its length, and writing it at `out` (returns the byte after it).
SPIKEY_HD std::uint32_t leb128_length(std::uint64_t v) {
  std::uint32_t length = 1;
  for (; v >= 0x80; v >>= 7) ++length;
  return length;
}
SPIKEY_HD std::uint8_t* write_leb128(std::uint64_t v, std::uint8_t* out) {
  for (; v >= 0x80; v >>= 7) *out++ = static_cast<std::uint8_t>(v | 0x80);
  *out++ = static_cast<std::uint8_t>(v);
  return out;
}

}  // namespace spikey::format
