// What the decoder pipeline (decoder.cpp) asks of a codec family: which channels a request
// needs, and the codes of those channels from their streams. One implementation per family of
// the codec table (codecs/<family>/*_decoder.cpp); decoder_family() is the one switch over them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/format/codec_table.hpp"
#include "spikey/host/uninitialized.hpp"

namespace spikey::host::codecs {

// A decoder writes every code before reading it, and zero-filling a chunk's codes first cost 4%
// of decoding 1024 channels.
using host::UninitializedAllocator;

// One channel's codes in one chunk.
using ChannelCodes = std::vector<std::int32_t, UninitializedAllocator<std::int32_t>>;

// One chunk's streams on their way to codes.
struct ChunkDecodeJob {
  std::uint64_t chunk = 0;
  std::uint64_t payload_offset = 0;  // for messages
  const format::ChunkChannels* present = nullptr;
  const format::PayloadDirectory* dir = nullptr;
  std::span<const std::uint8_t> payload;
  const std::vector<char>* needed = nullptr;          // per present channel: decode it (sync channels are already done)
  std::vector<ChannelCodes>* codes = nullptr;  // out: per present channel, its codes when needed
  // Optional: called on the decoding thread with a channel whose codes are final, while they
  // are still in cache (the lane-group families call it as each group ends; the caller finishes
  // the channels it was not called for).
  std::function<void(std::size_t p)> channel_decoded;

  std::span<const std::uint8_t> stream(std::size_t p) const { return payload.subspan(dir->stream_offset[p], dir->stream_size[p]); }
  // "chunk C, channel X (stream at byte B): why", naming the codec where it helps.
  format::ArchiveError stream_error(std::size_t p, const std::string& why) const {
    return format::ArchiveError("chunk " + std::to_string(chunk) + ", channel " + std::to_string(present->channel[p]) + " (stream at byte " +
                                std::to_string(payload_offset + dir->stream_offset[p]) + "): " + why);
  }
};

class DecoderFamily {
 public:
  virtual ~DecoderFamily() = default;
  // Marks in `needed` the present channels that the marked ones are predicted from.
  virtual void add_sources(const format::Metadata& meta, const format::ChunkChannels& present, std::vector<char>& needed) const = 0;
  // The codes of every needed channel of every job. Several chunks come at once so that a
  // family can fill its lockstep lanes across them; `threads` share the jobs' lane groups
  // (codecs/dependent_tasks.hpp), with the same codes and errors as one thread.
  virtual void decode(const format::Metadata& meta, std::span<ChunkDecodeJob> jobs, unsigned threads) const = 0;
};

// The decoder of a codec's family.
const DecoderFamily& decoder_family(const format::CodecRow& row);


}  // namespace spikey::host::codecs
