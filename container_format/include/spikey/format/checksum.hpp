// Checksums of the container (SPEC.md §3.1): XXH3-64, seed 0, over the bytes named by the spec.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

namespace spikey::format {

std::uint64_t checksum64(std::span<const std::uint8_t> bytes);
// The same over 16-bit samples as they lie in memory (little-endian): a chunk's samples
// checksum (§4.4) and its streams' checks.
inline std::uint64_t checksum64(std::span<const std::int16_t> samples) {
  return checksum64({reinterpret_cast<const std::uint8_t*>(samples.data()), samples.size() * 2});
}

// Streaming form, for whole restored files and decoded-sample checksums.
class StreamingChecksum {
 public:
  StreamingChecksum();
  ~StreamingChecksum();
  StreamingChecksum(StreamingChecksum&&) noexcept;
  StreamingChecksum& operator=(StreamingChecksum&&) noexcept;
  void update(std::span<const std::uint8_t> bytes);
  std::uint64_t digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace spikey::format
