// Codec lpc1's encoder (level fast, SPEC.md §6.5-§6.6): least-squares predictors, then per
// chunk the prediction for up to kLanes channels at once, each with fixed and with adapting
// weights, and the Golomb stream of whichever codes smaller.
#include "codecs/encoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/golomb/golomb_stream_encoder.hpp"
#include "codecs/lanes/lane_batcher.hpp"
#include "codecs/lpc/lpc_lanes.hpp"
#include "codecs/lpc/lpc_training.hpp"
#include "spikey/format/codecs/stored_models.hpp"

namespace spikey::host::codecs {

namespace {

class LpcEncoder final : public EncoderFamily {
 public:
  void train(const Recording& recording, format::Metadata& meta, const EncodeOptions& options, Model&) const override {
    PredictorTrainingOptions training = options.training;
    training.threads = options.threads;
    train_lpc_predictors(recording, meta, training);
  }

  void encode_streams(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded, const format::Metadata& meta,
                      std::size_t first, std::size_t end, std::vector<std::vector<std::uint8_t>>& streams) const override {
    thread_local std::vector<std::vector<std::int32_t>> weights(lanes::kLanes), source_buffers(lanes::kLanes);  // reused across chunks
    const auto flush = [&](std::span<const std::size_t> batch, std::uint32_t n) {
      lanes::LpcLaneGroup group;
      group.lanes = static_cast<int>(batch.size());
      group.n = n;
      group.weight_shift = static_cast<int>(meta.codec.weight_shift);
      const std::int32_t* in[lanes::kLanes] = {};
      std::vector<std::uint8_t>* out[lanes::kLanes] = {};
      for (std::size_t l = 0; l < batch.size(); ++l) {
        const std::size_t i = batch[l];
        const format::ChannelPredictor& predictor = meta.channels[coded.channel[i]].predictor;
        group.model[l] = format::lpc_model_of(predictor, meta.codec.weight_shift);
        weights[l] = format::initial_weights(predictor);
        group.weights[l] = weights[l].data();
        if (predictor.source_channel() >= 0) {
          source_buffers[l].assign(format::source_buffer_size(n), 0);
          const std::int64_t q = coded.position(predictor.source_channel());
          if (q >= 0) {
            const auto& src = codes[static_cast<std::size_t>(q)];
            format::fill_source_buffer(src.data(), static_cast<std::uint32_t>(src.size()), n, source_buffers[l].data());
          }
          group.source_buffer[l] = source_buffers[l].data();
        }
        in[l] = codes[i].data();
        out[l] = &streams[i];
      }
      encode_lane_group(group, lanes::lpc_fold, in, meta.codec.partition_size, out);
    };
    lanes::LaneBatcher<std::size_t, decltype(flush)> batcher(flush);
    for (std::size_t i = first; i < end; ++i) batcher.add(i, static_cast<std::uint32_t>(codes[i].size()));
    batcher.finish();
  }
};

}  // namespace

const EncoderFamily& lpc_encoder() {
  static const LpcEncoder encoder;
  return encoder;
}

}  // namespace spikey::host::codecs
