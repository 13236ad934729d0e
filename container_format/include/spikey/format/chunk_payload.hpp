// Chunk payload layout of codec rice1 (SPEC.md §6.5):
//
//   stream_size  u32 x P   byte size of each present channel's stream (a multiple of 4)
//   streams               the P channel streams (channel_stream.hpp), in channel order
//
// The channels present in a chunk are those whose length exceeds the chunk's first sample;
// each holds min(length, chunk end) - first sample samples. Both follow from the metadata.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "spikey/format/archive.hpp"

namespace spikey::format {

inline constexpr std::size_t kStreamSizeFieldBytes = 4;

struct ChunkChannels {
  std::vector<std::uint32_t> channel;       // present channels, ascending
  std::vector<std::uint32_t> sample_count;  // samples of each present channel in this chunk
};

ChunkChannels channels_in_chunk(const Metadata& metadata, std::uint64_t first_sample, std::uint32_t sample_count);

struct PayloadDirectory {
  std::vector<std::uint64_t> stream_offset;  // within the payload
  std::vector<std::uint64_t> stream_size;
};

// Builds the payload from the present channels' streams (each a whole number of 32-bit words).
std::vector<std::uint8_t> assemble_payload(std::span<const std::vector<std::uint32_t>> streams);

// Splits a payload into its streams; throws ArchiveError naming `chunk` and the file offset
// of the bad field when the sizes are inconsistent. `payload_file_offset` is for messages.
PayloadDirectory parse_payload_directory(std::span<const std::uint8_t> payload, std::size_t present_channels,
                                         std::uint64_t chunk, std::uint64_t payload_file_offset);

}  // namespace spikey::format
