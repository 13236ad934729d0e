#include "formats/float_grid.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "spikey/format/float_samples.hpp"

namespace spikey::host {

namespace {

bool fits(std::span<const std::uint8_t> bytes, std::size_t count, double step, unsigned width, bool big_endian) {
  std::int16_t code;
  for (std::size_t i = 0; i < count; ++i)
    if (!format::float_sample_code(bytes.data() + i * width, step, width, big_endian, code)) return false;
  return true;
}

}  // namespace

std::optional<double> find_float_grid(std::span<const std::uint8_t> bytes, unsigned width, bool big_endian) {
  const std::size_t n = bytes.size() / width;
  if (n == 0) return std::nullopt;
  // The smallest gap between distinct values of the first million samples.
  std::vector<double> values;
  for (std::size_t i = 0; i < std::min<std::size_t>(n, 1 << 20); ++i) {
    const double v = format::float_sample_value(bytes.data() + i * width, width, big_endian);
    if (!std::isfinite(v)) return std::nullopt;
    values.push_back(v);
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::vector<double> candidates;
  if (values.size() == 1) {
    candidates = {1.0, std::fabs(values[0])};
  } else {
    double gap = INFINITY;
    for (std::size_t i = 1; i < values.size(); ++i) gap = std::min(gap, values[i] - values[i - 1]);
    candidates.push_back(gap);
    for (int digits = 1; digits <= 17; ++digits) {  // 0.19499999 -> 0.195
      char text[64];
      std::snprintf(text, sizeof text, "%.*g", digits, gap);
      candidates.push_back(std::strtod(text, nullptr));
      if (width == 4) candidates.push_back(static_cast<float>(candidates.back()));  // a gain written as a float
    }
    candidates.push_back(static_cast<float>(gap));
  }
  const std::size_t probe = std::min<std::size_t>(n, 4096);
  for (const double step : candidates) {
    if (!(step > 0) || !std::isfinite(step)) continue;
    if (fits(bytes, probe, step, width, big_endian) && fits(bytes, n, step, width, big_endian)) return step;
  }
  return std::nullopt;
}

}  // namespace spikey::host
