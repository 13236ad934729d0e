// Training of codec lpc1's predictors (SPEC.md §6.6) on the recording being archived.
// Floating-point least squares, then quantized weights: the decoder only ever sees the
// integers written to the metadata, so float differences between machines cannot break
// decoding (they can only change which valid weights an encoder picks).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/training.hpp"

namespace spikey::host {

// Least-squares prediction weights for a Toeplitz system (Levinson-Durbin) of the given
// autocorrelation r[0..N]: returns, for every order k = 0..N, the residual energy E_k, and the
// order-N coefficients a[0..N-1] (a[0] multiplies the most recent value).
struct LevinsonResult {
  std::vector<double> residual_energy;
  std::vector<std::vector<double>> coefficients;  // coefficients[k] for order k
};
LevinsonResult levinson(std::span<const double> autocorrelation);

// Fills meta.channels[c].predictor for every channel. `meta` must already hold the channels
// (lengths, value maps), the chunking and the codec parameters.
void train_lpc_predictors(const Recording& recording, format::Metadata& meta, const PredictorTrainingOptions& options);

}  // namespace spikey::host
