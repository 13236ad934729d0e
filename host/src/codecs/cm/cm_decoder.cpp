// The decoder of codecs cm1-cm3 (SPEC.md §6.9): channel after channel in the decoding order
// (sources first); each stream decodes its rANS-coded residuals and the MiddleOut prediction in
// one pass, since the context of every residual depends on the ones before it.
#include "codecs/decoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/mo/mo_sources.hpp"
#include "spikey/format/codecs/cm/cm_stream.hpp"
#include "spikey/format/codecs/cm/cm_tables.hpp"
#include "spikey/format/codecs/stored_models.hpp"

namespace spikey::host::codecs {

namespace {

class CmDecoder final : public DecoderFamily {
 public:
  void add_sources(const format::Metadata& meta, const format::ChunkChannels& present, std::vector<char>& needed) const override {
    add_middle_out_sources(meta, present, needed);
  }

  void decode(const format::Metadata& meta, std::span<ChunkDecodeJob> jobs) const override {
    const std::vector<std::uint32_t> order = format::mo_decoding_order(meta);
    for (ChunkDecodeJob& job : jobs) decode_chunk(meta, order, job);
  }

 private:
  static void decode_chunk(const format::Metadata& meta, const std::vector<std::uint32_t>& order, ChunkDecodeJob& job) {
    const format::ChunkChannels& present = *job.present;
    const std::vector<char>& needed = *job.needed;
    auto& codes = *job.codes;
    for (std::size_t p = 0; p < present.channel.size(); ++p)  // reject impossible sizes before allocating
      if (needed[p] && job.dir->stream_size[p] < format::kCmStreamHeaderBytes) throw job.stream_error(p, "stream too short for its header");
    const format::CmModelTables model(meta.codec);
    format::CmNormaliserCache cache(static_cast<std::uint32_t>(meta.codec.cm_prior.size()));
    std::vector<std::int32_t> source_buffers[format::kMaxMoSources];
    std::vector<std::int32_t> history, wavelet, features(format::kMoStateSize);
    for (const std::uint32_t c : order) {
      const std::int64_t at = present.position(c);
      if (at < 0 || !needed[static_cast<std::size_t>(at)]) continue;
      const auto p = static_cast<std::size_t>(at);
      const format::ChannelInfo& channel = meta.channels[c];
      const std::uint32_t n = present.sample_count[p];
      const format::MoModel m = format::mo_model_of(channel.predictor, meta.codec);
      std::vector<std::int32_t> weights = format::initial_weights(channel.predictor);
      const std::int32_t* sources[format::kMaxMoSources] = {};
      fill_middle_out_sources(channel.predictor, present, codes, n, source_buffers, sources);
      history.resize(format::mo_history_buffer_size(n));
      wavelet.resize(static_cast<std::size_t>(m.levels) * format::wavelet_buffer_size(n) + 1);
      const format::CmTables tables = model.for_map(channel.value_map);
      codes[p].resize(n);
      const auto stream = job.stream(p);
      if (!format::decode_cm_stream(tables, format::CmCachedNormaliser{&tables, &cache}, m, stream.data(), stream.size(), n, weights.data(),
                                    history.data(), wavelet.data(), features.data(), sources, codes[p].data()))
        throw job.stream_error(p, "malformed " + meta.codec.name + " stream");
    }
  }
};

}  // namespace

const DecoderFamily& cm_decoder() {
  static const CmDecoder decoder;
  return decoder;
}

}  // namespace spikey::host::codecs
