// The encoder of codecs cm1-cm3 (level max, SPEC.md §6.9): MiddleOut training with the
// better projector, the context model, then every channel's rANS stream from its residuals
// (mo_chunk_residuals.hpp: fixed or adapting weights, by estimate).
#include "codecs/cm/cm_training.hpp"
#include "codecs/encoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/mo/mo_chunk_residuals.hpp"
#include "codecs/mo/mo_training.hpp"
#include "spikey/format/codecs/cm/cm_stream.hpp"
#include "spikey/format/codecs/cm/cm_tables.hpp"

namespace spikey::host::codecs {

namespace {

class CmEncoder final : public EncoderFamily {
 public:
  // Level max trains both projectors and keeps the better: its scalar decoder pays little for
  // the GRU.
  void train(const Recording& recording, format::Metadata& meta, const EncodeOptions& options, Model& model) const override {
    train_middle_out(recording, meta, options, model, {"best", 3});
    train_context_model(recording, meta, options, format::kCmMaxPriorPeriod, model);
  }

  void encode_streams(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded, const format::Metadata& meta,
                      std::size_t first, std::size_t end, std::vector<std::vector<std::uint8_t>>& streams) const override {
    StreamCoder coder(meta);
    for_each_mo_residuals(codes, coded, meta, first, end, [&](std::size_t i, const std::int32_t* z, bool adapt) {
      coder.code(codes[i], meta.channels[coded.channel[i]].value_map, z, adapt, streams[i]);
    });
  }

  void encode_streams_of_chunks(std::span<const ChunkStreams> chunks, const format::Metadata& meta) const override {
    StreamCoder coder(meta);
    for_each_mo_residuals(residual_inputs(chunks), meta, [&](std::size_t k, std::size_t i, const std::int32_t* z, bool adapt) {
      coder.code((*chunks[k].codes)[i], meta.channels[chunks[k].coded->channel[i]].value_map, z, adapt, (*chunks[k].streams)[i]);
    });
  }

 private:
  // A channel's rANS stream from its codes and residuals, with the tables and buffers it reuses.
  class StreamCoder {
   public:
    explicit StreamCoder(const format::Metadata& meta) : model_(meta.codec), cache_(static_cast<std::uint32_t>(meta.codec.cm_prior.size())) {}
    void code(const std::vector<std::int32_t>& codes, const format::ValueMap& map, const std::int32_t* z, bool adapt, std::vector<std::uint8_t>& stream) {
      const auto n = static_cast<std::uint32_t>(codes.size());
      const format::CmTables tables = model_.for_map(map);
      symbols_.resize(format::max_cm_symbols(n));
      scratch_bytes_.resize(format::max_cm_stream_bytes(n));
      stream.resize(format::max_cm_stream_bytes(n));
      const format::CmCachedNormaliser normaliser{&tables, &cache_};
      stream.resize(format::encode_cm_stream(tables, normaliser, codes.data(), z, n, adapt, symbols_.data(), scratch_bytes_.data(), stream.data()));
    }

   private:
    const format::CmModelTables model_;
    format::CmNormaliserCache cache_;
    std::vector<format::CmSymbol> symbols_;
    std::vector<std::uint8_t> scratch_bytes_;
  };
};

}  // namespace

const EncoderFamily& cm_encoder() {
  static const CmEncoder encoder;
  return encoder;
}

}  // namespace spikey::host::codecs
