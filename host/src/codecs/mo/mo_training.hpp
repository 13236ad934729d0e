// Training of codec mo1 (level default, SPEC.md §6.7): the topology of the recording (which
// channels share activity), a decoding order over it in which every channel draws on neighbours
// decoded before it, and least-squares weights for each channel's history, wavelet features
// and sources, each part kept only where it pays for its stored weights.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/model.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/training.hpp"

namespace spikey::host {

// Sets meta.codec's mo1 parameters and every channel's predictor. `topology` (computed when
// null) must have one entry per channel.
void train_mo_predictors(const Recording& recording, format::Metadata& meta, const MoTrainingOptions& options,
                         const Topology* topology = nullptr);

// The network stage (§6.8.1), after train_mo_predictors: trains one small ReLU network on the
// residuals of meta's linear predictors (float Adam on the L1 loss, then quantization-aware
// fine-tuning; deterministic for a seed), then gives each channel the network, with its
// gains, where the exact integer network saves at least options.network_min_saving of its
// residual magnitude, and names the codec mo2/cm2; leaves meta.codec.network empty and the
// codec mo1/cm1 when no channel gains.
void train_mo_network(const Recording& recording, format::Metadata& meta, const MoTrainingOptions& options);

namespace codecs {

// The MiddleOut part of training, shared by the mo and cm families: topology (unless the
// options give one), predictors, network stage; the options' choices where they make them,
// else the level's (projector mlp, gru or best; wavelet levels). The topology goes into the model.
struct MiddleOutLevel {
  const char* projector;
  int wavelet_levels;
};
void train_middle_out(const Recording& recording, format::Metadata& meta, const EncodeOptions& options, Model& model, MiddleOutLevel level);

}  // namespace codecs

}  // namespace spikey::host
