#include "spikey/format/chunk_payload.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "legacy/records_v1_v3.hpp"
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

std::int64_t ChunkChannels::position(std::int64_t c) const {
  if (c < 0) return -1;
  const auto it = std::lower_bound(channel.begin(), channel.end(), static_cast<std::uint32_t>(c));
  return it != channel.end() && *it == static_cast<std::uint32_t>(c) ? it - channel.begin() : -1;
}

namespace {

template <class Stream>
std::vector<std::uint8_t> assemble(std::span<const Stream> streams, std::size_t unit) {
  std::vector<std::uint8_t> payload;
  std::size_t total = 0;
  for (const auto& s : streams) {
    if (s.size() * unit > 0xffffffffu) throw std::length_error("channel stream over 4 GiB");
    total += s.size() * unit;
  }
  payload.reserve(total + streams.size() * kMaxVarintBytes);
  for (const auto& s : streams) put_leb128(payload, s.size() * unit);
  const std::size_t start = payload.size();
  payload.resize(start + total);
  std::uint8_t* out = payload.data() + start;
  for (const auto& s : streams) {
    if (!s.empty()) std::memcpy(out, s.data(), s.size() * unit);  // words are little-endian already
    out += s.size() * unit;
  }
  return payload;
}

}  // namespace

std::vector<std::uint8_t> assemble_payload(std::span<const std::vector<std::uint32_t>> streams) { return assemble(streams, 4); }
std::vector<std::uint8_t> assemble_payload(std::span<const std::vector<std::uint8_t>> streams) { return assemble(streams, 1); }

PayloadDirectory parse_payload_directory(std::span<const std::uint8_t> payload, std::size_t present_channels,
                                         std::uint64_t chunk, std::uint64_t payload_file_offset, std::uint16_t version) {
  const auto where = [&](std::uint64_t offset) {
    return "chunk " + std::to_string(chunk) + " (byte " + std::to_string(payload_file_offset + offset) + ")";
  };
  PayloadDirectory dir;
  dir.stream_offset.resize(present_channels);
  dir.stream_size.resize(present_channels);
  std::uint64_t position = 0;
  for (std::size_t i = 0; i < present_channels; ++i) {
    const std::uint64_t field = position;
    std::uint64_t size = 0;
    if (version <= legacy::kLastVersion) {
      size = legacy::read_stream_size(payload, position, where(field));
    } else {
      std::size_t at = position;
      if (!read_leb128(payload, &at, kMaxVarintBytes, &size)) {
        if (at == payload.size()) throw ArchiveError(where(field) + ": payload too short for its stream directory");
        throw ArchiveError(where(field) + ": stream size field is too long");
      }
      position = at;
      if (size > 0xffffffffu) throw ArchiveError(where(field) + ": stream size " + std::to_string(size) + " is invalid");
    }
    dir.stream_size[i] = size;
  }
  std::uint64_t offset = position;
  for (std::size_t i = 0; i < present_channels; ++i) {
    if (dir.stream_size[i] > payload.size() - offset)
      throw ArchiveError(where(offset) + ": stream " + std::to_string(i) + " of " + std::to_string(dir.stream_size[i]) + " bytes runs past the payload");
    dir.stream_offset[i] = offset;
    offset += dir.stream_size[i];
  }
  if (offset != payload.size()) throw ArchiveError(where(offset) + ": payload has bytes after its last stream");
  return dir;
}

}  // namespace spikey::format
