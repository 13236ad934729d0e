#include "value_map_loops.hpp"

#include <algorithm>
#include <cstddef>

namespace spikey::host {

namespace f = spikey::format;

namespace {

// Codes on the N1 grid in blocks; a block holding a code off the grid goes value by value.
__attribute__((target_clones("avx2", "default"))) void n1_codes_to_values(const std::int32_t* codes, std::size_t n, std::int16_t* values) {
  constexpr std::size_t kBlock = 1024;
  for (std::size_t at = 0; at < n; at += kBlock) {
    const std::size_t end = std::min(n, at + kBlock);
    std::uint32_t beyond = 0;
    for (std::size_t t = at; t < end; ++t) beyond |= static_cast<std::uint32_t>(codes[t]) >> 10;
    if (beyond == 0) {
      for (std::size_t t = at; t < end; ++t) values[t] = f::n1_grid_code_to_value(codes[t]);
    } else {
      for (std::size_t t = at; t < end; ++t) values[t] = f::n1_code_to_value(codes[t]);
    }
  }
}

__attribute__((target_clones("avx2", "default"))) void affine_codes_to_values(const std::int32_t* codes, std::size_t n, std::uint32_t step,
                                                                              std::uint32_t offset, std::int16_t* values) {
  for (std::size_t t = 0; t < n; ++t) values[t] = static_cast<std::int16_t>(static_cast<std::uint32_t>(codes[t]) * step + offset);
}

__attribute__((target_clones("avx2", "default"))) void identity_codes_to_values(const std::int32_t* codes, std::size_t n, std::int16_t* values) {
  for (std::size_t t = 0; t < n; ++t) values[t] = static_cast<std::int16_t>(codes[t]);
}

// Returns the bits where some value and its grid value differ (0: every value on the grid).
__attribute__((target_clones("avx2", "default"))) std::uint32_t n1_values_to_codes(const std::int16_t* values, std::size_t n, std::int32_t* codes) {
  std::uint32_t off_grid = 0;
  for (std::size_t t = 0; t < n; ++t) {
    codes[t] = f::n1_value_to_code(values[t]);
    off_grid |= static_cast<std::uint16_t>(f::n1_grid_value(values[t]) ^ values[t]);
  }
  return off_grid;
}

__attribute__((target_clones("avx2", "default"))) void identity_values_to_codes(const std::int16_t* values, std::size_t n, std::int32_t* codes) {
  for (std::size_t t = 0; t < n; ++t) codes[t] = values[t];
}

}  // namespace

void codes_to_values(const f::ValueMap& map, std::span<const std::int32_t> codes, std::int16_t* values) {
  switch (map.kind) {
    case f::ValueMapKind::n1_10bit:
      return n1_codes_to_values(codes.data(), codes.size(), values);
    case f::ValueMapKind::affine:
      return affine_codes_to_values(codes.data(), codes.size(), static_cast<std::uint32_t>(map.step), static_cast<std::uint32_t>(map.offset), values);
    case f::ValueMapKind::identity:
      return identity_codes_to_values(codes.data(), codes.size(), values);
  }
  for (std::size_t t = 0; t < codes.size(); ++t) values[t] = f::code_to_value(map, codes[t]);
}

bool values_to_codes(const f::ValueMap& map, std::span<const std::int16_t> values, std::int32_t* codes) {
  switch (map.kind) {
    case f::ValueMapKind::n1_10bit:
      return n1_values_to_codes(values.data(), values.size(), codes) == 0;
    case f::ValueMapKind::identity:
      identity_values_to_codes(values.data(), values.size(), codes);
      return true;
    case f::ValueMapKind::affine:
      break;
  }
  bool exact = true;  // a division by the step per value
  for (std::size_t t = 0; t < values.size(); ++t) {
    codes[t] = f::value_to_code(map, values[t]);
    exact &= f::code_to_value(map, codes[t]) == values[t];
  }
  return exact;
}

}  // namespace spikey::host
