// Wall-clock timing for reports (encode/decode speed, slowest chunk).
#pragma once

#include <chrono>

namespace spikey::host {

class Stopwatch {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace spikey::host
