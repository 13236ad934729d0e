// What the encoder pipeline (encoder.cpp) asks of a codec family: to fit what its codecs store
// to a recording, and to code a chunk's channels into streams. One implementation per family of
// the codec table (codecs/<family>/*_encoder.cpp); encoder_family() is the one switch over them.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/format/codec_table.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/model.hpp"
#include "spikey/host/recording.hpp"

namespace spikey::host::codecs {

class EncoderFamily {
 public:
  virtual ~EncoderFamily() = default;
  // Fits what the codec stores (predictors, network stage, context model) to the recording into
  // `meta`, whose codec is one of this family; training may move it to another codec of the
  // family (mo1 to mo2 when the network stage pays). Parts another recording of the same
  // implant can reuse (the topology) go into `model` too.
  virtual void train(const Recording& recording, format::Metadata& meta, const EncodeOptions& options, Model& model) const = 0;
  // The streams (bytes: whole words of the codec's word size) of a chunk's coded channels
  // [first, end), from their codes; `coded` lists them ascending, sync channels excluded, and
  // every channel's codes are there (sources outside the range). A channel's stream does not
  // depend on the range it is coded in, so the encoder may split a chunk across its threads.
  virtual void encode_streams(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded, const format::Metadata& meta,
                              std::size_t first, std::size_t end, std::vector<std::vector<std::uint8_t>>& streams) const = 0;

  // One chunk's part in encode_streams_of_chunks: all its coded channels.
  struct ChunkStreams {
    const std::vector<std::vector<std::int32_t>>* codes = nullptr;
    const format::ChunkChannels* coded = nullptr;
    std::vector<std::vector<std::uint8_t>>* streams = nullptr;
  };
  // The streams of several chunks' coded channels: the same bytes as encode_streams chunk by
  // chunk. Families whose prediction runs in lockstep lanes code the chunks together, so that a
  // recording of fewer channels than lanes fills them with its chunks; this default codes them
  // one by one.
  virtual void encode_streams_of_chunks(std::span<const ChunkStreams> chunks, const format::Metadata& meta) const {
    for (const ChunkStreams& c : chunks) encode_streams(*c.codes, *c.coded, meta, 0, c.coded->channel.size(), *c.streams);
  }
};

// The encoder of a codec's family.
const EncoderFamily& encoder_family(const format::CodecRow& row);

}  // namespace spikey::host::codecs
