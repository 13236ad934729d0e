// The encoders' rule for choosing a coding parameter per partition (SPEC.md §6.12.1, §6.12.2):
// from a starting value, walk down while the cost strictly decreases; if it never moved
// down, walk up the same way. With a convex cost this ends at the optimum. Deterministic, so
// CPU and GPU encoders choose the same parameter.
#pragma once

#include "spikey/format/hd.hpp"

namespace spikey::format {

template <typename Cost>
SPIKEY_HD int walk_to_cheapest(int start, int max_value, Cost cost) {
  int value = start;
  auto best = cost(value);
  bool moved_down = false;
  while (value > 0) {
    const auto c = cost(value - 1);
    if (c >= best) break;
    best = c;
    --value;
    moved_down = true;
  }
  if (!moved_down) {
    while (value < max_value) {
      const auto c = cost(value + 1);
      if (c >= best) break;
      best = c;
      ++value;
    }
  }
  return value;
}

}  // namespace spikey::format
