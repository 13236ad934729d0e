// The encoder of codecs mo1-mo3 (level default, SPEC.md §6.7-§6.8): topology, MiddleOut
// predictors and the network stage, then per chunk the prediction for up to kLanes channels
// at once, each with fixed and with adapting weights, and the Golomb stream of whichever codes
// smaller.
#include "codecs/encoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/golomb/golomb_stream_encoder.hpp"
#include "codecs/lanes/lane_batcher.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mo/mo_sources.hpp"
#include "codecs/mo/mo_training.hpp"
#include "spikey/format/codecs/stored_models.hpp"
#include "spikey/host/stopwatch.hpp"

namespace spikey::host::codecs {

void train_middle_out(const Recording& recording, format::Metadata& meta, const EncodeOptions& options, Model& model, MiddleOutLevel level) {
  MoTrainingOptions training = options.mo_training;
  training.threads = options.threads;
  if (training.network_projector.empty()) training.network_projector = level.projector;
  if (training.wavelet_levels < 0) training.wavelet_levels = level.wavelet_levels;
  Topology computed;
  Stopwatch phase;
  std::vector<std::pair<std::string, double>> parts;  // each phase's parts, listed after it
  training.phase_parts = &parts;
  const auto phase_done = [&](const char* name) {
    model.training_seconds.emplace_back(name, phase.lap());
    model.training_seconds.insert(model.training_seconds.end(), parts.begin(), parts.end());
    parts.clear();
  };
  if (!options.topology) computed = compute_topology(recording, meta, training);
  phase_done("topology");
  const Topology& topology = options.topology ? *options.topology : computed;
  train_mo_predictors(recording, meta, training, &topology);
  phase_done("predictors");
  train_mo_network(recording, meta, training);
  phase_done("network");
  model.topology = topology;
}

namespace {

class MoEncoder final : public EncoderFamily {
 public:
  // Level default's projector is the ReLU layer: the GRU decodes several times slower in the
  // lockstep kernel.
  void train(const Recording& recording, format::Metadata& meta, const EncodeOptions& options, Model& model) const override {
    train_middle_out(recording, meta, options, model, {"mlp", 3});
  }

  void encode_streams(const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded, const format::Metadata& meta,
                      std::size_t first, std::size_t end, std::vector<std::vector<std::uint8_t>>& streams) const override {
    thread_local std::vector<std::vector<std::int32_t>> weights(lanes::kLanes);  // reused across chunks
    thread_local std::vector<std::vector<std::int32_t>> source_buffers(lanes::kLanes * format::kMaxMoSources);
    const auto flush = [&](std::span<const std::size_t> batch, std::uint32_t n) {
      lanes::MoLaneGroup group;
      group.lanes = static_cast<int>(batch.size());
      group.n = n;
      const std::int32_t* in[lanes::kLanes] = {};
      std::vector<std::uint8_t>* out[lanes::kLanes] = {};
      for (std::size_t l = 0; l < batch.size(); ++l) {
        const format::ChannelPredictor& predictor = meta.channels[coded.channel[batch[l]]].predictor;
        group.model[l] = format::mo_model_of(predictor, meta.codec);
        weights[l] = format::initial_weights(predictor);
        group.weights[l] = weights[l].data();
        fill_middle_out_sources(predictor, coded, codes, n, &source_buffers[l * format::kMaxMoSources], group.sources[l]);
        in[l] = codes[batch[l]].data();
        out[l] = &streams[batch[l]];
      }
      encode_lane_group(group, lanes::mo_fold, in, meta.codec.partition_size, out);
    };
    // Channels with and without the network stage in separate groups (a group pays for the
    // network when any of its lanes uses it).
    for (const bool network : {false, true}) {
      lanes::LaneBatcher<std::size_t, decltype(flush)> batcher(flush);
      for (std::size_t i = first; i < end; ++i)
        if (meta.channels[coded.channel[i]].predictor.uses_network() == network) batcher.add(i, static_cast<std::uint32_t>(codes[i].size()));
      batcher.finish();
    }
  }
};

}  // namespace

const EncoderFamily& mo_encoder() {
  static const MoEncoder encoder;
  return encoder;
}

}  // namespace spikey::host::codecs
