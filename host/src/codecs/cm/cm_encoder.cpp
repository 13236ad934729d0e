// The encoder of codecs cm1-cm3 (level max, SPEC.md §6.9): MiddleOut training with the
// better projector, the context model, then every channel's rANS stream with fixed and with
// adapting weights, keeping the smaller.
#include "codecs/cm/cm_training.hpp"
#include "codecs/encoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/mo/mo_sources.hpp"
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
    train_middle_out(recording, meta, options, model, "best");
    if (options.progress) options.progress("train", 0, 1);
    CmTrainingOptions cm = options.cm_training;
    cm.threads = options.threads;
    train_cm_model(recording, meta, cm);
  }

  void encode_streams(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded, const format::Metadata& meta,
                      std::vector<std::vector<std::uint8_t>>& streams) const override {
    const format::CmModelTables model(meta.codec);
    format::CmNormaliserCache cache(static_cast<std::uint32_t>(meta.codec.cm_prior.size()));
    std::vector<std::int32_t> buffers[format::kMaxMoSources];
    std::vector<std::int32_t> residuals, scratch;
    std::vector<format::CmSymbol> symbols;
    std::vector<std::uint8_t> scratch_bytes, bytes, adapted_bytes;
    for (std::size_t i = 0; i < coded.channel.size(); ++i) {
      const format::ChannelInfo& channel = meta.channels[coded.channel[i]];
      const auto n = static_cast<std::uint32_t>(codes[i].size());
      const std::int32_t* sources[format::kMaxMoSources] = {};
      fill_middle_out_sources(channel.predictor, coded, codes, n, buffers, sources);
      const bool both = cm_residuals_both_ways(codes[i], channel.predictor, meta.codec, sources, residuals, scratch);
      const format::CmTables tables = model.for_map(channel.value_map);
      symbols.resize(format::max_cm_symbols(n));
      scratch_bytes.resize(format::max_cm_stream_bytes(n));
      bytes.resize(format::max_cm_stream_bytes(n));
      const format::CmCachedNormaliser normaliser{&tables, &cache};
      // The adapt flag is whichever codes smaller.
      std::uint64_t size = format::encode_cm_stream(tables, normaliser, codes[i].data(), residuals.data(), n, false, symbols.data(),
                                                    scratch_bytes.data(), bytes.data());
      if (both) {
        adapted_bytes.resize(format::max_cm_stream_bytes(n));
        const std::uint64_t adapted_size = format::encode_cm_stream(tables, normaliser, codes[i].data(), scratch.data(), n, true, symbols.data(),
                                                                    scratch_bytes.data(), adapted_bytes.data());
        if (adapted_size < size) size = adapted_size, bytes.swap(adapted_bytes);
      }
      streams[i].assign(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
    }
  }
};

}  // namespace

const EncoderFamily& cm_encoder() {
  static const CmEncoder encoder;
  return encoder;
}

}  // namespace spikey::host::codecs
