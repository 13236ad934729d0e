// Codec rice1 (format version 1, frozen): written only by tests, which check that it still
// round-trips. Nothing to train: the prediction is the previous code.
#include "codecs/encoder_family.hpp"
#include "codecs/families.hpp"
#include "spikey/format/codecs/rice1/rice1_stream.hpp"

namespace spikey::host::codecs::legacy {

namespace {

class Rice1Encoder final : public EncoderFamily {
 public:
  void train(const Recording&, format::Metadata&, const EncodeOptions&, Model&) const override {}

  void encode_streams(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& /*coded*/, const format::Metadata& meta,
                      std::size_t first, std::size_t end, std::vector<std::vector<std::uint8_t>>& streams) const override {
    std::vector<std::uint32_t> folded, words;
    for (std::size_t i = first; i < end; ++i) {
      const auto n = static_cast<std::uint32_t>(codes[i].size());
      folded.resize(n);
      words.resize(format::max_rice1_stream_words(n, meta.codec.partition_size));
      words.resize(format::encode_rice1_stream(codes[i].data(), n, meta.codec.partition_size, folded.data(), words.data()));
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(words.data());  // little-endian words
      streams[i].assign(bytes, bytes + words.size() * sizeof(std::uint32_t));
    }
  }
};

}  // namespace

const EncoderFamily& rice1_encoder() {
  static const Rice1Encoder encoder;
  return encoder;
}

}  // namespace spikey::host::codecs::legacy
