#include <cuda_runtime.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "spikey/cuda/cuda_check.cuh"
#include "spikey/cuda/device.hpp"

namespace spikey::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device"/"no driver" error
    return 0;
  }
  return count;
}

std::string device_description() {
  if (device_count() == 0) return {};
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) return {};
  return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
         std::to_string(p.totalGlobalMem >> 30) + " GiB)";
}

void start_context_early() {
  static std::once_flag started;
  static std::future<void> creating;  // its destructor, at exit, waits for the thread
  std::call_once(started, [] {
    creating = std::async(std::launch::async, [] {
      if (cudaSetDevice(0) == cudaSuccess) cudaFree(nullptr);  // cudaFree(nullptr): the idiom that creates the context
      cudaGetLastError();  // an error here is met again, and reported, by the first real call
    });
  });
}

double memory_bandwidth_ceiling() {
  if (device_count() == 0) return 0;
  int clock_khz = 0, bus_bits = 0;
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0) != cudaSuccess ||
      cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return 2.0 * clock_khz * 1e3 * bus_bits / 8.0;  // double data rate
}

namespace {

// Median seconds of `repeats` copies (after a warm-up), timed with events on one stream.
double median_copy_seconds(void* to, const void* from, std::size_t bytes, cudaMemcpyKind kind, int repeats) {
  cudaEvent_t started = nullptr, finished = nullptr;
  SPIKEY_CUDA_TRY(cudaEventCreate(&started));
  SPIKEY_CUDA_TRY(cudaEventCreate(&finished));
  std::vector<double> seconds;
  cudaError_t status = cudaMemcpy(to, from, bytes, kind);
  for (int r = 0; r < repeats && status == cudaSuccess; ++r) {
    float ms = 0;
    status = cudaEventRecord(started);
    if (status == cudaSuccess) status = cudaMemcpyAsync(to, from, bytes, kind);
    if (status == cudaSuccess) status = cudaEventRecord(finished);
    if (status == cudaSuccess) status = cudaEventSynchronize(finished);
    if (status == cudaSuccess) status = cudaEventElapsedTime(&ms, started, finished);
    seconds.push_back(ms / 1e3);
  }
  cudaEventDestroy(started);
  cudaEventDestroy(finished);
  SPIKEY_CUDA_TRY(status);
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

}  // namespace

CopyRates measure_copy_rates(std::size_t bytes, int repeats) {
  if (device_count() == 0) throw std::runtime_error("no CUDA device is available");
  if (bytes == 0 || repeats <= 0) throw std::invalid_argument("measure_copy_rates: bytes and repeats must be positive");
  SPIKEY_CUDA_TRY(cudaSetDevice(0));
  void *a = nullptr, *b = nullptr, *host = nullptr;
  CopyRates rates;
  cudaError_t status = cudaMalloc(&a, bytes);
  if (status == cudaSuccess) status = cudaMalloc(&b, bytes);
  if (status == cudaSuccess) status = cudaHostAlloc(&host, bytes, cudaHostAllocDefault);
  if (status == cudaSuccess) status = cudaMemset(a, 0x5a, bytes);  // never time copies of untouched pages
  try {
    SPIKEY_CUDA_TRY(status);
    std::fill_n(static_cast<unsigned char*>(host), bytes, static_cast<unsigned char>(0xa5));
    const double d = static_cast<double>(bytes);
    rates.device_to_device = 2 * d / median_copy_seconds(b, a, bytes, cudaMemcpyDeviceToDevice, repeats);
    rates.host_to_device = d / median_copy_seconds(a, host, bytes, cudaMemcpyHostToDevice, repeats);
    rates.device_to_host = d / median_copy_seconds(host, b, bytes, cudaMemcpyDeviceToHost, repeats);
  } catch (...) {
    cudaFree(a);
    cudaFree(b);
    cudaFreeHost(host);
    throw;
  }
  cudaFree(a);
  cudaFree(b);
  cudaFreeHost(host);
  return rates;
}

}  // namespace spikey::cuda
