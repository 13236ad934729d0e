// The encoder of codecs mt1-mt3 (level default, SPEC.md §6.9.6): MiddleOut training with the
// ReLU projector, the context model with a prior of period at most 256, then per chunk the
// prediction of up to kLanes channels at once with fixed and with adapting weights, and each
// stream's table-driven rANS segments from whichever residuals are smaller.
#include <algorithm>
#include <cstring>

#include "codecs/cm/cm_training.hpp"
#include "codecs/encoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/lanes/lane_batcher.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mo/mo_sources.hpp"
#include "codecs/mo/mo_training.hpp"
#include "codecs/mt/mt_tables.hpp"
#include "spikey/format/codecs/mt/mt_stream.hpp"
#include "spikey/format/codecs/stored_models.hpp"
#include "spikey/format/wire.hpp"

namespace spikey::host::codecs {

namespace f = spikey::format;

namespace {

std::uint64_t magnitude_sum(const std::int32_t* z, std::uint32_t n) {
  std::uint64_t sum = 0;
  for (std::uint32_t t = 1; t < n; ++t) sum += static_cast<std::uint64_t>(z[t] < 0 ? -std::int64_t{z[t]} : std::int64_t{z[t]});
  return sum;
}

// One channel's stream from its codes and residuals z[1..n-1].
void encode_stream(const MtTables& tables, const std::int32_t* codes, const std::int32_t* z, std::uint32_t n, bool adapt,
                   std::uint32_t segment_residuals, std::vector<std::uint8_t>& stream) {
  const std::uint32_t segments = f::mt_segment_count(n, segment_residuals);
  thread_local std::vector<f::CmSymbol> symbols;
  thread_local std::vector<std::uint8_t> scratch, body;
  thread_local std::vector<std::uint64_t> sizes;
  sizes.clear();
  body.clear();
  std::int32_t scale = f::kCmScaleStart;
  for (std::uint32_t i = 0; i < segments; ++i) {
    const std::uint32_t first = f::mt_segment_first(i, segment_residuals), end = f::mt_segment_end(i, n, segment_residuals);
    const std::uint32_t residuals = end > first ? end - first : 0;
    symbols.resize(f::mt_max_segment_symbols(residuals));
    std::uint64_t count = 0;
    if (i == 0) {
      symbols[count++] = f::cm_raw_symbol(adapt ? 1u : 0u, 1);
      count += static_cast<std::uint64_t>(f::cm_integer_symbols(codes[0], symbols.data() + count));
    }
    for (std::uint32_t t = first; t < end; ++t) {
      const auto base = static_cast<std::int32_t>(static_cast<std::uint32_t>(codes[t]) - static_cast<std::uint32_t>(z[t]));
      count += static_cast<std::uint64_t>(f::mt_residual_symbols(tables.table(f::cm_class_of(scale), base), z[t], symbols.data() + count));
      scale = f::cm_next_scale(scale, z[t], tables.scale_rate());
    }
    const std::uint64_t bound = f::mt_max_segment_bytes(residuals);
    scratch.resize(bound);
    const std::size_t at = body.size();
    body.resize(at + bound);
    const std::uint64_t size = f::mt_encode_segment(symbols.data(), count, scratch.data(), bound, body.data() + at);
    body.resize(at + size);
    sizes.push_back(size);
  }
  stream.clear();
  for (std::uint32_t i = 0; i + 1 < segments; ++i) f::put_leb128(stream, sizes[i]);
  stream.insert(stream.end(), body.begin(), body.end());
}

class MtEncoder final : public EncoderFamily {
 public:
  // Level default: the ReLU projector (the GRU decodes several times slower in lockstep), and a
  // prior the tables can hold.
  void train(const Recording& recording, f::Metadata& meta, const EncodeOptions& options, Model& model) const override {
    train_middle_out(recording, meta, options, model, "mlp");
    if (options.progress) options.progress("train", 0, 1);
    CmTrainingOptions cm = options.cm_training;
    cm.threads = options.threads;
    cm.max_prior_period = std::min(cm.max_prior_period, f::kMtMaxPriorPeriod);
    train_cm_model(recording, meta, cm);
  }

  void encode_streams(const std::vector<std::vector<std::int32_t>>& codes, const f::ChunkChannels& coded, const f::Metadata& meta,
                      std::vector<std::vector<std::uint8_t>>& streams) const override {
    const std::shared_ptr<const MtTables> tables = mt_tables_for(meta.codec);
    thread_local std::vector<std::vector<std::int32_t>> weights(lanes::kLanes), source_buffers(lanes::kLanes * f::kMaxMoSources);
    thread_local std::vector<std::int32_t> fixed[lanes::kLanes], adapted[lanes::kLanes];
    const auto flush = [&](std::span<const std::size_t> batch, std::uint32_t n) {
      lanes::MoLaneGroup group;
      group.lanes = static_cast<int>(batch.size());
      group.n = n;
      const std::int32_t* in[lanes::kLanes] = {};
      std::int32_t* out_fixed[lanes::kLanes] = {};
      std::int32_t* out_adapted[lanes::kLanes] = {};
      bool adapts[lanes::kLanes] = {}, any_step = false;
      for (std::size_t l = 0; l < batch.size(); ++l) {
        const f::ChannelPredictor& predictor = meta.channels[coded.channel[batch[l]]].predictor;
        group.model[l] = f::mo_model_of(predictor, meta.codec);
        adapts[l] = group.model[l].lms_step != 0;
        any_step |= adapts[l];
        weights[l] = f::initial_weights(predictor);
        group.weights[l] = weights[l].data();
        fill_middle_out_sources(predictor, coded, codes, n, &source_buffers[l * f::kMaxMoSources], group.sources[l]);
        in[l] = codes[batch[l]].data();
        fixed[l].resize(n);
        adapted[l].resize(n);
        out_fixed[l] = fixed[l].data();
        out_adapted[l] = adapted[l].data();
      }
      if (any_step) lanes::mo_residuals(group, in, out_adapted);
      for (int l = 0; l < group.lanes; ++l) group.model[l].lms_step = 0;
      lanes::mo_residuals(group, in, out_fixed);
      for (std::size_t l = 0; l < batch.size(); ++l) {
        // The adapt flag follows the smaller sum of |residual|: a close, cheap proxy for the coded size.
        const bool adapt = adapts[l] && magnitude_sum(adapted[l].data(), n) < magnitude_sum(fixed[l].data(), n);
        encode_stream(*tables, in[l], adapt ? adapted[l].data() : fixed[l].data(), n, adapt, meta.codec.partition_size, streams[batch[l]]);
      }
    };
    // Channels with and without the network stage in separate groups (a group pays for the
    // network when any of its lanes uses it).
    for (const bool network : {false, true}) {
      lanes::LaneBatcher<std::size_t, decltype(flush)> batcher(flush);
      for (std::size_t i = 0; i < coded.channel.size(); ++i)
        if (meta.channels[coded.channel[i]].predictor.uses_network() == network) batcher.add(i, static_cast<std::uint32_t>(codes[i].size()));
      batcher.finish();
    }
  }
};

}  // namespace

const EncoderFamily& mt_encoder() {
  static const MtEncoder encoder;
  return encoder;
}

}  // namespace spikey::host::codecs
