// Wall-clock timing for reports (encode/decode speed, slowest chunk, the phases of an encode).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace spikey::host {

class Stopwatch {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  // Seconds since the start or the previous lap, and a new lap begins.
  double lap() {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - start_).count();
    start_ = now;
    return s;
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// The parts of a phase, timed one after another into a log of (name, seconds) when there is one.
class PhaseParts {
 public:
  explicit PhaseParts(std::vector<std::pair<std::string, double>>* log) : log_(log) {}
  // The part that ends now (it began where the previous one ended).
  void done(const char* name) {
    if (log_ != nullptr) log_->emplace_back(name, watch_.lap());
  }

 private:
  std::vector<std::pair<std::string, double>>* log_;
  Stopwatch watch_;
};

}  // namespace spikey::host
