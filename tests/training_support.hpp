// A training set for the ReLU projector from real data (the bundled cinpla sample): each
// channel's last 8 code differences and the 9th-last as inputs, the next difference as the
// target, all in units of the channel's spread, as network_training.cpp scales them.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/codecs/mo/mo_network.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
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

// The bundled cinpla sample (32 channels at 30 kHz) as a recording.
inline host::Recording cinpla_sample_recording() {
  return host::Recording::open({samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"}, {32u, 30000.0}, [](const std::string&) {});
}

// Level default's mo codec in short chunks, every channel given the network stage whatever it
// saves (so the trainers' results reach the archive), on `samples` training steps (0: the default).
inline host::EncodeOptions network_stage_options(std::uint64_t samples = 0) {
  host::EncodeOptions options;
  options.codec = format::kCodecMo1;
  options.overwrite = true;
  options.chunk_seconds = 0.05;
  options.mo_training.network_min_saving = -1;
  if (samples != 0) options.mo_training.network_samples = samples;
  return options;
}

}  // namespace spikey::test
