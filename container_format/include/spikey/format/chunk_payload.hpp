// Chunk payload layout (SPEC.md §6.3):
//
//   stream sizes   P sizes in bytes, one per present channel: LEB128 varints from format
//                  version 4, u32 (a multiple of 4) before
//   stream checks  version 10: P u32, the low 32 bits of the XXH3-64 of each channel's decoded
//                  samples in this chunk; a stream of size 0 with check 0 is lost (salvage)
//   streams        the P channel streams, in channel order
//
// The channels present in a chunk are those whose length exceeds the chunk's first sample;
// each holds min(length, chunk end) - first sample samples. Both follow from the metadata.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "spikey/format/archive.hpp"

namespace spikey::format {

inline constexpr std::size_t kMaxVarintBytes = 5;         // a u32 as LEB128

struct ChunkChannels {
  std::vector<std::uint32_t> channel;       // present channels, ascending
  std::vector<std::uint32_t> sample_count;  // samples of each present channel in this chunk

  // Index of `c` among the present channels, or -1 when it is absent (or negative).
  std::int64_t position(std::int64_t c) const;
};

ChunkChannels channels_in_chunk(const Metadata& metadata, std::uint64_t first_sample, std::uint32_t sample_count);

struct PayloadDirectory {
  std::vector<std::uint64_t> stream_offset;  // within the payload
  std::vector<std::uint64_t> stream_size;
  std::vector<std::uint32_t> stream_check;   // version 10 on; empty before
  bool checked() const { return !stream_check.empty(); }
  // Version 10: a stream a salvage could not recover.
  bool lost(std::size_t i) const { return checked() && stream_size[i] == 0; }
};

// A channel's stream check (§6.3): the low 32 bits of checksum64 of its decoded samples.
std::uint32_t stream_check_of(std::span<const std::int16_t> samples);

// Builds a (current version) payload from the present channels' byte streams. `samples` holds
// the chunk's samples as the encoder read them, channel after channel (§4.4), `sample_count`
// each channel's count: the stream checks are computed from them. No stream may be empty.
std::vector<std::uint8_t> assemble_payload(std::span<const std::vector<std::uint8_t>> streams, std::span<const std::int16_t> samples,
                                           std::span<const std::uint32_t> sample_count);
// The same from byte streams wherever they lie (a batch's packed words: not copied first), with
// the stream checks already computed (stream_checks, which an encoder may run on parts of the
// channels at once): `checks[i]` of channel i's samples.
std::vector<std::uint8_t> assemble_payload(std::span<const std::span<const std::uint8_t>> streams, std::span<const std::uint32_t> checks);
// The stream checks of channels [first, end) of a chunk's samples (channel after channel,
// `sample_count` each) into checks[first .. end).
void stream_checks(std::span<const std::int16_t> samples, std::span<const std::uint32_t> sample_count, std::size_t first, std::size_t end,
                   std::span<std::uint32_t> checks);
// A payload from streams and their checks as they are: salvage keeps a chunk's intact streams
// and writes lost ones as empty streams with check 0.
std::vector<std::uint8_t> assemble_checked_payload(std::span<const std::span<const std::uint8_t>> streams,
                                                   std::span<const std::uint32_t> checks);

// Splits a payload of archive format `version` into its streams; throws ArchiveError naming
// `chunk` and the file offset of the bad field when the sizes are inconsistent.
// `payload_file_offset` is for messages.
PayloadDirectory parse_payload_directory(std::span<const std::uint8_t> payload, std::size_t present_channels,
                                         std::uint64_t chunk, std::uint64_t payload_file_offset, std::uint16_t version = kFormatVersion);

}  // namespace spikey::format
