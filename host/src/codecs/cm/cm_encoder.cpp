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
    const format::CmModelTables model(meta.codec);
    format::CmNormaliserCache cache(static_cast<std::uint32_t>(meta.codec.cm_prior.size()));
    std::vector<format::CmSymbol> symbols;
    std::vector<std::uint8_t> scratch_bytes;
    for_each_mo_residuals(codes, coded, meta, first, end, [&](std::size_t i, const std::int32_t* z, bool adapt) {
      const auto n = static_cast<std::uint32_t>(codes[i].size());
      const format::CmTables tables = model.for_map(meta.channels[coded.channel[i]].value_map);
      symbols.resize(format::max_cm_symbols(n));
      scratch_bytes.resize(format::max_cm_stream_bytes(n));
      streams[i].resize(format::max_cm_stream_bytes(n));
      const format::CmCachedNormaliser normaliser{&tables, &cache};
      const std::uint64_t size =
          format::encode_cm_stream(tables, normaliser, codes[i].data(), z, n, adapt, symbols.data(), scratch_bytes.data(), streams[i].data());
      streams[i].resize(size);
    });
  }
};

}  // namespace

const EncoderFamily& cm_encoder() {
  static const CmEncoder encoder;
  return encoder;
}

}  // namespace spikey::host::codecs
