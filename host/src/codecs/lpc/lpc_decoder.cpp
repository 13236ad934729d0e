// Codec lpc1's decoder (SPEC.md §6.5-§6.6): each stream's Golomb-coded residuals, then the
// prediction for up to kLanes channels at once, sources before the channels predicted from
// them (sources are one level deep).
#include "codecs/decoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/lanes/lane_batcher.hpp"
#include "codecs/lpc/lpc_lanes.hpp"
#include "codecs/stream_checks.hpp"
#include "spikey/format/codecs/common/golomb_stream.hpp"
#include "spikey/format/codecs/stored_models.hpp"

namespace spikey::host::codecs {

namespace {

class LpcDecoder final : public DecoderFamily {
 public:
  void add_sources(const format::Metadata& meta, const format::ChunkChannels& present, std::vector<char>& needed) const override {
    const std::vector<char> requested = needed;
    for (std::size_t p = 0; p < present.channel.size(); ++p) {
      if (!requested[p]) continue;
      const std::int64_t q = present.position(meta.channels[present.channel[p]].predictor.source_channel());
      if (q >= 0) needed[static_cast<std::size_t>(q)] = 1;
    }
  }

  void decode(const format::Metadata& meta, std::span<ChunkDecodeJob> jobs) const override {
    for (ChunkDecodeJob& job : jobs) decode_chunk(meta, job);
  }

 private:
  static void decode_chunk(const format::Metadata& meta, ChunkDecodeJob& job) {
    require_warmup_and_a_bit_per_sample(job);
    const format::ChunkChannels& present = *job.present;
    const std::vector<char>& needed = *job.needed;
    auto& codes = *job.codes;
    // Not zero-filled, as the codes (every entry is decoded before it is read).
    std::vector<std::vector<std::uint32_t, UninitializedAllocator<std::uint32_t>>> folded(present.channel.size());
    std::vector<std::int32_t> first_code(present.channel.size(), 0);
    std::vector<char> adapt(present.channel.size(), 0);
    for (std::size_t p = 0; p < present.channel.size(); ++p) {
      if (!needed[p]) continue;
      folded[p].resize(present.sample_count[p]);
      bool flag = false;
      const auto stream = job.stream(p);
      if (!format::decode_golomb_stream_residuals(stream.data(), stream.size(), present.sample_count[p], meta.codec.partition_size, &first_code[p],
                                                  &flag, folded[p].data()))
        throw job.stream_error(p, "malformed lpc1 stream");
      adapt[p] = flag;
    }
    std::vector<std::vector<std::int32_t>> weights(present.channel.size()), source_buffers(present.channel.size());
    const auto flush = [&](std::span<const std::size_t> batch, std::uint32_t n) {
      lanes::LpcLaneGroup group;
      group.lanes = static_cast<int>(batch.size());
      group.n = n;
      group.weight_shift = static_cast<int>(meta.codec.weight_shift);
      std::int32_t first[lanes::kLanes] = {};
      const std::uint32_t* in[lanes::kLanes] = {};
      std::int32_t* out_codes[lanes::kLanes] = {};
      for (std::size_t l = 0; l < batch.size(); ++l) {
        const std::size_t p = batch[l];
        const format::ChannelPredictor& predictor = meta.channels[present.channel[p]].predictor;
        group.model[l] = format::lpc_model_of(predictor, meta.codec.weight_shift);
        if (!adapt[p]) group.model[l].lms_step = 0;
        weights[p] = format::initial_weights(predictor);
        group.weights[l] = weights[p].data();
        if (predictor.source_channel() >= 0) {
          source_buffers[p].assign(format::source_buffer_size(n), 0);
          const std::int64_t q = present.position(predictor.source_channel());
          if (q >= 0) {
            const auto& src = codes[static_cast<std::size_t>(q)];
            format::fill_source_buffer(src.data(), static_cast<std::uint32_t>(src.size()), n, source_buffers[p].data());
          }
          group.source_buffer[l] = source_buffers[p].data();
        }
        first[l] = first_code[p];
        in[l] = folded[p].data();
        codes[p].resize(n);
        out_codes[l] = codes[p].data();
      }
      lanes::lpc_reconstruct(group, first, in, out_codes);
    };
    // Sources first, then the channels predicted from them.
    for (const bool dependents : {false, true}) {
      lanes::LaneBatcher<std::size_t, decltype(flush)> batcher(flush);
      for (std::size_t p = 0; p < present.channel.size(); ++p)
        if (needed[p] && (meta.channels[present.channel[p]].predictor.source_channel() >= 0) == dependents) batcher.add(p, present.sample_count[p]);
      batcher.finish();
    }
  }
};

}  // namespace

const DecoderFamily& lpc_decoder() {
  static const LpcDecoder decoder;
  return decoder;
}

}  // namespace spikey::host::codecs
