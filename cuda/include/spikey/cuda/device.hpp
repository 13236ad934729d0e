// Device discovery, callable from plain C++ (no CUDA headers needed by callers).
#pragma once

#include <cstddef>
#include <string>

namespace spikey::cuda {

// Number of usable CUDA devices; 0 when there is no device or no driver (never throws).
int device_count();

// "NVIDIA H200 (sm_90, 139 GiB)" for device 0, or an empty string without a device.
std::string device_description();

// Creates device 0's context on a thread of its own, once per process (later calls do nothing):
// the first CUDA call that needs a context waits for it, so starting it before the survey hides
// its cost (a large part of a second on some machines) behind the survey's pass over the input.
void start_context_early();

// Theoretical DRAM bandwidth of device 0 in bytes/s (memory clock x bus width x 2), 0 if unknown.
double memory_bandwidth_ceiling();

// Measured copy rates of device 0 in bytes/s, the ceilings beside which encoder throughput is
// read: a device-to-device copy (bytes read plus bytes written) and pinned host-to-device and
// device-to-host copies (the PCIe or C2C link). The median of `repeats` timed copies of `bytes`
// after one warm-up, timed with CUDA events. Throws std::runtime_error without a device.
struct CopyRates {
  double device_to_device = 0;
  double host_to_device = 0;
  double device_to_host = 0;
};
CopyRates measure_copy_rates(std::size_t bytes = std::size_t{1} << 30, int repeats = 5);

}  // namespace spikey::cuda
