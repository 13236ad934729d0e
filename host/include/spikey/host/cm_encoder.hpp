// Codec cm1 on the encoder side (level max, SPEC.md §6.11): fitting the context model to a
// recording, and coding chunks with it.
#pragma once

#include <cstdint>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/host/recording.hpp"

namespace spikey::host {

struct CmTrainingOptions {
  std::uint64_t max_samples = 1u << 24;  // residuals looked at (evenly spaced whole chunks)
  unsigned threads = 1;
};

// Sets meta.codec's cm1 model (shapes and prior) from the residuals of meta's mo1 predictors.
void train_cm_model(const Recording& recording, format::Metadata& meta, const CmTrainingOptions& options);

// One chunk's cm1 streams, from the codes of its present channels.
void encode_cm_streams(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& present,
                       const format::Metadata& meta, std::vector<std::vector<std::uint8_t>>& streams);

}  // namespace spikey::host
