// Codec lpc1's encoder (level fast, SPEC.md §6.5-§6.6): least-squares predictors, then per
// chunk the prediction for up to kLanes channels at once, each with fixed and with adapting
// weights, and the Golomb stream of whichever codes smaller.
#include "codecs/encoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/golomb/golomb_stream_encoder.hpp"
#include "codecs/lpc/lpc_lane_groups.hpp"
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
    for_each_lpc_lane_group(codes, coded, meta, first, end, [&](lanes::LpcLaneGroup& group, const std::int32_t* const* in, std::span<const std::size_t> batch) {
      std::vector<std::uint8_t>* out[lanes::kLanes] = {};
      for (std::size_t l = 0; l < batch.size(); ++l) out[l] = &streams[batch[l]];
      encode_lane_group(group, lanes::lpc_fold, in, meta.codec.partition_size, out);
    });
  }
};

}  // namespace

const EncoderFamily& lpc_encoder() {
  static const LpcEncoder encoder;
  return encoder;
}

}  // namespace spikey::host::codecs
