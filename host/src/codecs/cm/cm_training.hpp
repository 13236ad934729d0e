// Fitting the context model of codecs cm1-cm3 (level max, SPEC.md §6.9) to a recording: the
// shape of every scale class, the scale rate and the code-density prior, from the residuals of
// the recording's MiddleOut predictors.
#pragma once

#include <cstdint>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/model.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/training.hpp"

namespace spikey::host {

// Sets meta.codec's context model (shapes, scale rate and prior) from the residuals of meta's
// MiddleOut predictors. Returns the training's estimate of the coded bits per residual.
double train_cm_model(const Recording& recording, format::Metadata& meta, const CmTrainingOptions& options);

// The encoders' step after the MiddleOut training (cm and mt families): train_cm_model with
// options.cm_training on options.threads, its prior's period at most `max_prior_period`, the
// estimate and the phase's time into `model`.
void train_context_model(const Recording& recording, format::Metadata& meta, const EncodeOptions& options, std::uint32_t max_prior_period,
                         Model& model);

}  // namespace spikey::host
