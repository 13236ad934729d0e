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
