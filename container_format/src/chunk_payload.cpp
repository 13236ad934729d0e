#include "spikey/format/chunk_payload.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "spikey/format/wire.hpp"

namespace spikey::format {

ChunkChannels channels_in_chunk(const Metadata& metadata, std::uint64_t first_sample, std::uint32_t sample_count) {
  ChunkChannels present;
  const std::uint64_t end = first_sample + sample_count;
  for (std::uint32_t c = 0; c < metadata.channels.size(); ++c) {
    const std::uint64_t length = metadata.channels[c].length;
    if (length <= first_sample) continue;
    present.channel.push_back(c);
    present.sample_count.push_back(static_cast<std::uint32_t>(std::min(length, end) - first_sample));
  }
  return present;
}

std::vector<std::uint8_t> assemble_payload(std::span<const std::vector<std::uint32_t>> streams) {
  std::size_t total = streams.size() * kStreamSizeFieldBytes;
  for (const auto& s : streams) total += s.size() * 4;
  std::vector<std::uint8_t> payload(total);
  std::uint8_t* out = payload.data();
  for (const auto& s : streams) {
    store_u32_le(out, static_cast<std::uint32_t>(s.size() * 4));
    out += kStreamSizeFieldBytes;
  }
  for (const auto& s : streams) {
    if (!s.empty()) std::memcpy(out, s.data(), s.size() * 4);  // words are little-endian already
    out += s.size() * 4;
  }
  return payload;
}

PayloadDirectory parse_payload_directory(std::span<const std::uint8_t> payload, std::size_t present_channels,
                                         std::uint64_t chunk, std::uint64_t payload_file_offset) {
  const auto where = [&](std::uint64_t offset) {
    return "chunk " + std::to_string(chunk) + " (byte " + std::to_string(payload_file_offset + offset) + ")";
  };
  const std::uint64_t directory_size = std::uint64_t{present_channels} * kStreamSizeFieldBytes;
  if (directory_size > payload.size()) throw ArchiveError(where(0) + ": payload too short for its stream directory");
  PayloadDirectory dir;
  dir.stream_offset.resize(present_channels);
  dir.stream_size.resize(present_channels);
  std::uint64_t offset = directory_size;
  for (std::size_t i = 0; i < present_channels; ++i) {
    const std::uint32_t size = load_u32_le(payload.data() + i * kStreamSizeFieldBytes);
    if (size % 4 != 0 || size > payload.size() - offset)
      throw ArchiveError(where(i * kStreamSizeFieldBytes) + ": stream size " + std::to_string(size) + " is invalid");
    dir.stream_offset[i] = offset;
    dir.stream_size[i] = size;
    offset += size;
  }
  if (offset != payload.size()) throw ArchiveError(where(offset) + ": payload has bytes after its last stream");
  return dir;
}

}  // namespace spikey::format
