#include "spikey/format/chunk_payload.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "legacy/records_v1_v3.hpp"
#include "spikey/format/checksum.hpp"
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

std::uint32_t stream_check_of(std::span<const std::int16_t> samples) {
  return static_cast<std::uint32_t>(checksum64(samples));
}

std::vector<std::uint8_t> assemble_checked_payload(std::span<const std::span<const std::uint8_t>> streams,
                                                   std::span<const std::uint32_t> checks) {
  if (checks.size() != streams.size()) throw std::logic_error("one stream check per stream");
  std::vector<std::uint8_t> payload;
  std::size_t total = 0;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    if (streams[i].size() > 0xffffffffu) throw std::length_error("channel stream over 4 GiB");
    if (streams[i].empty() && checks[i] != 0) throw std::logic_error("a lost stream has check 0");
    total += streams[i].size();
  }
  payload.reserve(total + streams.size() * (kMaxVarintBytes + 4));
  for (const auto& s : streams) put_leb128(payload, s.size());
  WireWriter w(payload);
  for (const std::uint32_t check : checks) w.u32(check);
  for (const auto& s : streams) w.bytes(s);
  return payload;
}

void stream_checks(std::span<const std::int16_t> samples, std::span<const std::uint32_t> sample_count, std::size_t first, std::size_t end,
                   std::span<std::uint32_t> checks) {
  if (end > sample_count.size() || checks.size() < end) throw std::logic_error("one sample count and one check per stream");
  std::size_t position = 0;
  for (std::size_t i = 0; i < first; ++i) position += sample_count[i];
  for (std::size_t i = first; i < end; ++i) {
    if (position + sample_count[i] > samples.size()) throw std::logic_error("stream checks need every channel's samples");
    checks[i] = stream_check_of(samples.subspan(position, sample_count[i]));
    position += sample_count[i];
  }
}

std::vector<std::uint8_t> assemble_payload(std::span<const std::span<const std::uint8_t>> streams, std::span<const std::uint32_t> checks) {
  // An empty stream would read as lost (§6.3).
  for (const auto& s : streams)
    if (s.empty()) throw std::logic_error("an encoder never writes an empty stream");
  return assemble_checked_payload(streams, checks);
}

std::vector<std::uint8_t> assemble_payload(std::span<const std::vector<std::uint8_t>> streams, std::span<const std::int16_t> samples,
                                           std::span<const std::uint32_t> sample_count) {
  if (sample_count.size() != streams.size()) throw std::logic_error("one sample count per stream");
  std::vector<std::uint32_t> checks(streams.size());
  stream_checks(samples, sample_count, 0, streams.size(), checks);
  return assemble_payload(std::vector<std::span<const std::uint8_t>>(streams.begin(), streams.end()), checks);
}

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
  if (version >= kFirstVersionWithStreamChecks) {
    if (payload.size() - position < 4 * std::uint64_t{present_channels})
      throw ArchiveError(where(position) + ": payload too short for its stream checks");
    dir.stream_check.resize(present_channels);
    for (std::size_t i = 0; i < present_channels; ++i, position += 4) {
      dir.stream_check[i] = load_u32_le(payload.data() + position);
      if (dir.stream_size[i] == 0 && dir.stream_check[i] != 0)
        throw ArchiveError(where(position) + ": an empty (lost) stream with a non-zero check");
    }
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
