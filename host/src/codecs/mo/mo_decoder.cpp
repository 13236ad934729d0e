// The decoder of codecs mo1-mo3 (SPEC.md §6.7-§6.8) in two stages: each chunk's Golomb
// streams to folded residuals, then the prediction, depth by depth of the decoding order (a
// channel's sources are all at smaller depths), up to kLanes channels at once in the lockstep
// kernel. The prediction takes all the jobs' chunks together: a depth level of one chunk often
// holds fewer than kLanes channels (long source chains), and the same level of the next chunk
// fills the lanes.
#include <algorithm>

#include "codecs/decoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/lanes/lane_batcher.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mo/mo_sources.hpp"
#include "codecs/stream_checks.hpp"
#include "spikey/format/codecs/common/golomb_stream.hpp"
#include "spikey/format/codecs/stored_models.hpp"

namespace spikey::host::codecs {

namespace {

struct Residuals {  // one chunk's entropy stage
  std::vector<std::vector<std::uint32_t>> folded;
  std::vector<std::int32_t> first_code;
  std::vector<char> adapt;
};

Residuals decode_residuals(const format::Metadata& meta, const ChunkDecodeJob& job) {
  require_warmup_and_a_bit_per_sample(job);
  const format::ChunkChannels& present = *job.present;
  Residuals r;
  r.folded.resize(present.channel.size());
  r.first_code.assign(present.channel.size(), 0);
  r.adapt.assign(present.channel.size(), 0);
  for (std::size_t p = 0; p < present.channel.size(); ++p) {
    if (!(*job.needed)[p]) continue;
    r.folded[p].resize(present.sample_count[p]);
    bool flag = false;
    const auto stream = job.stream(p);
    if (!format::decode_golomb_stream_residuals(stream.data(), stream.size(), present.sample_count[p], meta.codec.partition_size, &r.first_code[p],
                                                &flag, r.folded[p].data()))
      throw job.stream_error(p, "malformed " + meta.codec.name + " stream");
    r.adapt[p] = flag;
  }
  return r;
}

class MoDecoder final : public DecoderFamily {
 public:
  void add_sources(const format::Metadata& meta, const format::ChunkChannels& present, std::vector<char>& needed) const override {
    add_middle_out_sources(meta, present, needed);
  }

  void decode(const format::Metadata& meta, std::span<ChunkDecodeJob> jobs) const override {
    std::vector<Residuals> residuals;
    for (const ChunkDecodeJob& job : jobs) residuals.push_back(decode_residuals(meta, job));
    std::uint32_t max_depth = 0;
    const std::vector<std::uint32_t> depth = mo_channel_depths(meta, &max_depth);
    struct Lane {
      std::size_t job;
      std::size_t p;
    };
    std::vector<std::vector<std::int32_t>> weights(lanes::kLanes), source_buffers(lanes::kLanes * format::kMaxMoSources);
    const auto flush = [&](std::span<const Lane> batch, std::uint32_t n) {
      lanes::MoLaneGroup group;
      group.lanes = static_cast<int>(batch.size());
      group.n = n;
      std::int32_t first[lanes::kLanes] = {};
      const std::uint32_t* in[lanes::kLanes] = {};
      std::int32_t* out[lanes::kLanes] = {};
      for (std::size_t l = 0; l < batch.size(); ++l) {
        const ChunkDecodeJob& job = jobs[batch[l].job];
        Residuals& r = residuals[batch[l].job];
        const std::size_t p = batch[l].p;
        auto& codes = *job.codes;
        const format::ChannelPredictor& predictor = meta.channels[job.present->channel[p]].predictor;
        group.model[l] = format::mo_model_of(predictor, meta.codec);
        if (!r.adapt[p]) group.model[l].lms_step = 0;
        weights[l] = format::initial_weights(predictor);
        group.weights[l] = weights[l].data();
        fill_middle_out_sources(predictor, *job.present, codes, n, &source_buffers[l * format::kMaxMoSources], group.sources[l]);
        first[l] = r.first_code[p];
        in[l] = r.folded[p].data();
        codes[p].resize(n);
        out[l] = codes[p].data();
      }
      lanes::mo_reconstruct(group, first, in, out);
      for (const Lane& lane : batch) residuals[lane.job].folded[lane.p] = {};  // done with: keep the memory in flight down
    };
    for (std::uint32_t level = 0; level <= max_depth; ++level) {
      // Channels with and without the network stage in separate groups: a group pays for the
      // network when any of its lanes uses it.
      for (const bool network : {false, true}) {
        lanes::LaneBatcher<Lane, decltype(flush)> batcher(flush);
        for (std::size_t j = 0; j < jobs.size(); ++j) {
          const format::ChunkChannels& present = *jobs[j].present;
          for (std::size_t p = 0; p < present.channel.size(); ++p) {
            const std::uint32_t c = present.channel[p];
            if ((*jobs[j].needed)[p] && depth[c] == level && meta.channels[c].predictor.uses_network() == network)
              batcher.add({j, p}, present.sample_count[p]);
          }
        }
        batcher.finish();
      }
    }
  }
};

}  // namespace

const DecoderFamily& mo_decoder() {
  static const MoDecoder decoder;
  return decoder;
}

}  // namespace spikey::host::codecs
