// Sync channels (SPEC.md §6.10, format version 6): a sync or digital-word channel is a
// bitfield that changes rarely, so each chunk stores it as runs of equal values rather than
// through the codec's predictor.
//
//   run    := LEB128(zigzag(value - previous run's value))  LEB128(length - 1)
//   stream := LEB128(number of runs)  runs covering exactly the channel's samples in the
//             chunk  zero bytes up to a multiple of `alignment` bytes (4 for the word codecs
//             rice1/lpc1/mo1, 1 for cm1)
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace spikey::format {

std::vector<std::uint8_t> encode_sync_runs(std::span<const std::int16_t> samples, std::size_t alignment);

// False when the stream is malformed: runs past `out.size()` samples or short of them, a value
// outside int16, a field over 5 bytes, or padding that is not zeros shorter than `alignment`.
bool decode_sync_runs(std::span<const std::uint8_t> stream, std::size_t alignment, std::span<std::int16_t> out);

// The stream as the 32-bit little-endian words of the word codecs' payloads.
std::vector<std::uint32_t> sync_runs_words(const std::vector<std::uint8_t>& aligned_stream);

}  // namespace spikey::format
