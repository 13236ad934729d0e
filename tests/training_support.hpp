// A training set for the ReLU projector from real data (the bundled cinpla sample): each
// channel's last 8 code differences and the 9th-last as inputs, the next difference as the
// target, all in units of the channel's spread, as network_training.cpp scales them.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "spikey/format/mo_network.hpp"
#include "test_support.hpp"

namespace spikey::test {

struct ReluTrainingSet {
  std::vector<float> x, y;
};

inline ReluTrainingSet cinpla_relu_training_set(std::size_t steps) {
  const auto raw = read_file(samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto* samples = reinterpret_cast<const std::int16_t*>(raw.data());
  const std::size_t channels = 32, frames = raw.size() / (2 * channels);
  ReluTrainingSet set;
  for (std::size_t c = 0; c < channels && set.y.size() < steps; ++c) {
    std::vector<float> d(frames, 0.0f);
    double squares = 0;
    for (std::size_t t = 1; t < frames; ++t) {
      d[t] = static_cast<float>(samples[t * channels + c] - samples[(t - 1) * channels + c]);
      squares += double(d[t]) * d[t];
    }
    const auto spread = static_cast<float>(std::sqrt(squares / static_cast<double>(frames)) + 1);
    for (std::size_t t = format::kNetInputs + 1; t < frames && set.y.size() < steps; ++t) {
      for (std::size_t i = 0; i < static_cast<std::size_t>(format::kNetInputs); ++i) set.x.push_back(d[t - format::kNetInputs + i] / spread);
      set.y.push_back(d[t] / spread);
    }
  }
  return set;
}

}  // namespace spikey::test
