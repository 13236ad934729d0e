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

namespace spikey::host {

struct PredictorTrainingOptions {
  int max_order = 16;               // history taps, 0..format::kMaxLpcOrder (32 gains <= 0.3% here, at half the speed)
  int source_half_window = 2;       // cross-channel window t-W..t+W, or -1 to disable
  std::int32_t lms_step = 2;        // written into every predictor
  std::uint64_t max_training_samples = 1u << 19;  // per channel; whole chunks spread over the recording
  unsigned threads = 1;
};

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
void train_predictors(const Recording& recording, format::Metadata& meta, const PredictorTrainingOptions& options);

}  // namespace spikey::host
