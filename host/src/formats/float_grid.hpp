// The grid of a block of float samples (SPEC.md §4.2, version 12): the step s such that every
// value is exactly an int16 code times s, as float_samples.hpp computes it, if there is one.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace spikey::host {

// `bytes` holds whole samples of `width` bytes (4 or 8). Tries the steps a writer would have
// used: the smallest difference between values and its decimal roundings (a gain such as 0.195
// or 1.95e-7), checked on every value. Returns nothing when none fits.
std::optional<double> find_float_grid(std::span<const std::uint8_t> bytes, unsigned width, bool big_endian);

}  // namespace spikey::host
