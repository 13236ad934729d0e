// Device discovery, callable from plain C++ (no CUDA headers needed by callers).
#pragma once

#include <string>

namespace spikey::cuda {

// Number of usable CUDA devices; 0 when there is no device or no driver (never throws).
int device_count();

// "NVIDIA H200 (sm_90, 139 GiB)" for device 0, or an empty string without a device.
std::string device_description();

// Theoretical DRAM bandwidth of device 0 in bytes/s (memory clock x bus width x 2), 0 if unknown.
double memory_bandwidth_ceiling();

}  // namespace spikey::cuda
