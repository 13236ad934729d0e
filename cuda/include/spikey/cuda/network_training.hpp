// The CUDA trainer of the network stage's ReLU projector: runs host::ReluEpochs on the GPU and
// gives the same weights as host::train_relu_epochs_on_cpu, bit for bit (relu_training.hpp),
// so an archive's bytes do not depend on where its encoder trained.
#pragma once

#include <vector>

#include "spikey/host/relu_training.hpp"

namespace spikey::cuda {

// One thread block runs the whole run: a thread per sample of a batch for the forward pass, a
// thread per parameter for its gradient (the samples' terms added in batch order, as the CPU
// does) and its Adam update. Uses device 0; throws std::runtime_error without one.
// `kernel_seconds`, when given, receives the kernel's time (CUDA events).
void train_relu_epochs_on_gpu(const host::ReluEpochs& run, std::vector<float>& parameters, double* kernel_seconds = nullptr);

}  // namespace spikey::cuda
