// A trained model: everything the encoder learns from a recording that another recording of
// the same implant can reuse: the codec, every channel's predictor and (mo1) the topology.
// `spikey train` writes one; `compress --model` encodes with it instead of training.
//
// Archives always embed the predictors they were encoded with (SPEC.md §4.3), so every archive
// decodes alone, forever. That costs about 50 bytes per channel after compression, which is
// 0.1% of even a 5 s single-channel archive; archives never refer to a model file by hash.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/host/training.hpp"

namespace spikey::host {

struct Model {
  format::CodecParams codec;
  std::vector<format::ChannelPredictor> predictors;  // one per channel
  std::optional<Topology> topology;                   // mo1
  // Training's estimate of the coded bits per residual (context-modelled codecs; 0: none). Not
  // saved: it describes the recording trained on.
  double estimated_bits_per_residual = 0;
  // Seconds of each training phase, in order (topology, predictors, network, context_model; those
  // the codec has). Not saved.
  std::vector<std::pair<std::string, double>> training_seconds;

  void save(const std::filesystem::path& path) const;       // JSON, written atomically
  static Model load(const std::filesystem::path& path);      // throws std::runtime_error
};

}  // namespace spikey::host
