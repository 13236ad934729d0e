// A channel's codes to its sample values (the decoder) and its values to codes (the encoder),
// a whole chunk at a time: one loop per kind of value map, built for AVX2 and for the baseline,
// so that the N1 map is vector arithmetic instead of a table lookup per sample.
#pragma once

#include <cstdint>
#include <span>

#include "spikey/format/value_map.hpp"

namespace spikey::host {

// values[t] = code_to_value(map, codes[t]) for every t (codes off the N1 grid, only from a
// damaged stream, through the map's arithmetic).
void codes_to_values(const format::ValueMap& map, std::span<const std::int32_t> codes, std::int16_t* values);

// codes[t] = value_to_code(map, values[t]) for every t; false when some value's code does not map
// back to it (the survey chose a map that is not exact for the channel).
bool values_to_codes(const format::ValueMap& map, std::span<const std::int16_t> values, std::int32_t* codes);

}  // namespace spikey::host
