// Float samples on an exact grid (SPEC.md §4.2, version 12): a source of IEEE 754 binary32 or
// binary64 values, every one of which is an int16 code times the source's step. The archive
// holds the codes; the file's value of code u is u * step in binary64 (one rounding), rounded
// to binary32 for 4-byte samples. Shared by the reader that checks a source's values and the
// writer that restores them, so both round alike.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace spikey::format {

// The file bytes of code u (width 4 or 8).
inline void float_sample_bytes(std::int16_t code, double step, unsigned width, bool big_endian, std::uint8_t* out) {
  const double value = static_cast<double>(code) * step;
  std::uint8_t bytes[8];
  if (width == 4) {
    const float narrow = static_cast<float>(value);
    std::memcpy(bytes, &narrow, 4);
  } else {
    std::memcpy(bytes, &value, 8);
  }
  for (unsigned i = 0; i < width; ++i) out[i] = bytes[big_endian ? width - 1 - i : i];
}

// The value a sample's bytes hold (width 4 or 8), widened to double.
inline double float_sample_value(const std::uint8_t* in, unsigned width, bool big_endian) {
  std::uint8_t bytes[8];
  for (unsigned i = 0; i < width; ++i) bytes[i] = in[big_endian ? width - 1 - i : i];
  if (width == 4) {
    float narrow;
    std::memcpy(&narrow, bytes, 4);
    return narrow;
  }
  double value;
  std::memcpy(&value, bytes, 8);
  return value;
}

// The code whose bytes are exactly `in`, or false when no int16 code gives them (a value off
// the grid, -0, a NaN or an infinity).
inline bool float_sample_code(const std::uint8_t* in, double step, unsigned width, bool big_endian, std::int16_t& code) {
  const double q = std::nearbyint(float_sample_value(in, width, big_endian) / step);
  if (!(q >= -32768.0 && q <= 32767.0)) return false;
  code = static_cast<std::int16_t>(q);
  std::uint8_t back[8];
  float_sample_bytes(code, step, width, big_endian, back);
  return std::memcmp(back, in, width) == 0;
}

}  // namespace spikey::format
