// Per-channel value maps: exact transforms between 16-bit sample values and compact
// integer codes (SPEC.md §5). The predictor and the Rice coder work on codes.
//
// A map is only used for a channel when every sample of that channel survives
// value -> code -> value unchanged (`value_map_is_exact_for`); the encoder checks this
// before use and otherwise falls back to a map that is exact (identity always is).
#pragma once

#include <cstddef>

#include "spikey/format/hd.hpp"

namespace spikey::format {

enum class ValueMapKind : std::uint8_t {
  identity = 0,  // code = value
  affine = 1,    // code = (value - offset) / step, value = code * step + offset
  n1_10bit = 2,  // Neuralink N1: 10-bit ADC code u in 0..1023 behind a 16-bit WAV value
};

struct ValueMap {
  ValueMapKind kind = ValueMapKind::identity;
  std::int32_t step = 1;    // affine only, 1..65535
  std::int32_t offset = 0;  // affine only, 0..step-1
};

// N1: value = trunc(u * 65535 / 1023 - 32768), the mapping of the challenge WAVs.
// Numerator u*65535 - 32768*1023 is computed in 64 bits so that any (even corrupt) code is safe.
SPIKEY_HD std::int16_t n1_code_to_value(std::int32_t code) {
  const std::int64_t numerator = std::int64_t{code} * 65535 - std::int64_t{32768} * 1023;
  return static_cast<std::int16_t>(numerator / 1023);  // C++ division truncates toward zero
}

// N1 inverse: the top 10 bits of the value, shifted to 0..1023 (arithmetic shift).
SPIKEY_HD std::int32_t n1_value_to_code(std::int16_t value) {
  return (std::int32_t{value} >> 6) + 512;
}

// n1_code_to_value(n1_value_to_code(value)): the N1 value the top 10 bits of `value` map back to,
// in 16-bit operations that vectorize (the survey tests every sample against the N1 grid). With
// code u, u * 65535 - 32768 * 1023 = 1023 * (value & ~63) + 63 * u, and 63u / 1023 = 21u / 341
// lies in [0, 63): truncated toward zero that adds floor(21u / 341) at and above 0 and the
// ceiling below, where value & ~63 <= -64.
SPIKEY_HD std::int16_t n1_grid_value(std::int16_t value) {
  const std::int32_t code = n1_value_to_code(value);
  const auto numerator = static_cast<std::uint16_t>(21 * code + (value < 0 ? 340 : 0));  // at most 21823
  return static_cast<std::int16_t>((value & ~63) + numerator / 341);
}

// n1_code_to_value of a code on the grid (0..1023): the grid value of the lowest value with that
// code, in n1_grid_value's 16-bit operations (the decoder maps whole chunks with it).
SPIKEY_HD std::int16_t n1_grid_code_to_value(std::int32_t code) {
  return n1_grid_value(static_cast<std::int16_t>((code - 512) * 64));
}

// Code for a sample value. Defined for every value; exact only if value_map_is_exact_for().
// Code ranges: identity -32768..32767, affine within -32768..65535, n1 0..1023.
SPIKEY_HD std::int32_t value_to_code(const ValueMap& map, std::int16_t value) {
  switch (map.kind) {
    case ValueMapKind::affine:
      return (std::int32_t{value} - map.offset) / map.step;
    case ValueMapKind::n1_10bit:
      return n1_value_to_code(value);
    case ValueMapKind::identity:
    default:
      return value;
  }
}

// Sample value for a code. Total function (wraps to 16 bits) so corrupt codes cannot cause UB.
SPIKEY_HD std::int16_t code_to_value(const ValueMap& map, std::int32_t code) {
  switch (map.kind) {
    case ValueMapKind::affine:
      return static_cast<std::int16_t>(static_cast<std::uint32_t>(code) * static_cast<std::uint32_t>(map.step) +
                                       static_cast<std::uint32_t>(map.offset));
    case ValueMapKind::n1_10bit:
      return n1_code_to_value(code);
    case ValueMapKind::identity:
    default:
      return static_cast<std::int16_t>(code);
  }
}

SPIKEY_HD bool value_map_is_exact_for(const ValueMap& map, std::int16_t value) {
  return code_to_value(map, value_to_code(map, value)) == value;
}

}  // namespace spikey::format
