// The CUDA trainers of the network stage's projectors: run host::ReluEpochs / host::GruEpochs
// on the GPU and give the same weights as host::train_relu_epochs_on_cpu /
// host::train_gru_epochs_on_cpu, bit for bit (relu_training.hpp, gru_training.hpp), so an
// archive's bytes do not depend on where its encoder trained.
#pragma once

#include <vector>

#include "codecs/mo/gru_training.hpp"
#include "codecs/mo/relu_training.hpp"

namespace spikey::cuda {

// One thread block runs the whole run (each Adam step needs the last): a thread per sample of a
// batch for the forward pass, a thread per parameter for its gradient (the samples' terms added
// in batch order, as the CPU does, from the batch's activations in shared memory) and its Adam
// update. Uses device 0; throws std::runtime_error without one.
// `kernel_seconds`, when given, receives the kernel's time (CUDA events).
void train_relu_epochs_on_gpu(const host::ReluEpochs& run, std::vector<float>& parameters, double* kernel_seconds = nullptr);

// One thread block of kGruBatch threads: a thread per window of a batch for its forward and
// backward pass, then a thread per parameter summing the windows' gradients in order and
// taking its Adam step. Device 0; throws std::runtime_error without one.
void train_gru_epochs_on_gpu(const host::GruEpochs& run, std::vector<float>& parameters, double* kernel_seconds = nullptr);

}  // namespace spikey::cuda
