// Error checks for CUDA runtime calls: throw with file, line and the error's name.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#define SPIKEY_CUDA_TRY(call)                                                                                    \
  do {                                                                                                           \
    const cudaError_t spikey_cuda_status = (call);                                                               \
    if (spikey_cuda_status != cudaSuccess)                                                                       \
      throw std::runtime_error(std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + #call + " failed: " + \
                               cudaGetErrorName(spikey_cuda_status) + " (" + cudaGetErrorString(spikey_cuda_status) + ")"); \
  } while (0)

// After every kernel launch: a bad launch configuration is reported at the launch that made it.
// Debug builds (SPIKEY_CUDA_SYNC_CHECKS) also wait for the kernel, so that a fault inside it is
// reported at its own launch rather than at some later copy.
#if defined(SPIKEY_CUDA_SYNC_CHECKS)
#define SPIKEY_CUDA_CHECK_LAUNCH(stream)              \
  do {                                                \
    SPIKEY_CUDA_TRY(cudaGetLastError());              \
    SPIKEY_CUDA_TRY(cudaStreamSynchronize(stream));   \
  } while (0)
#else
#define SPIKEY_CUDA_CHECK_LAUNCH(stream) SPIKEY_CUDA_TRY(cudaGetLastError())
#endif

namespace spikey::cuda {

// Threads per block must fill whole warps: the kernels' warp shuffles and the warp-per-partition
// packing assume full 32-lane warps.
template <int Threads>
constexpr bool whole_warps = Threads > 0 && Threads % 32 == 0 && Threads <= 1024;

}  // namespace spikey::cuda
