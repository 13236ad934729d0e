// The decoder of codecs mo1-mo3 (SPEC.md §6.7-§6.8) in two stages: each chunk's Golomb
// streams to folded residuals, then the prediction, depth by depth of the decoding order (a
// channel's sources are all at smaller depths), up to kLanes channels at once in the lockstep
// kernel. The prediction takes all the jobs' chunks together: a depth level of one chunk often
// holds fewer than kLanes channels (long source chains), and the same level of the next chunk
// fills the lanes.
#include <algorithm>

#include "codecs/decoder_family.hpp"
#include "codecs/dependent_tasks.hpp"
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

// Adds the tasks that decode the needed streams of `job` to folded residuals (after a check of
// their sizes); residual_task[p]: channel p's task.
void plan_residuals(const format::Metadata& meta, const ChunkDecodeJob& job, Residuals& r, DependentTasks& tasks,
                    std::vector<std::int64_t>& residual_task) {
  const format::ChunkChannels& present = *job.present;
  r.folded.resize(present.channel.size());
  r.first_code.assign(present.channel.size(), 0);
  r.adapt.assign(present.channel.size(), 0);
  residual_task.assign(present.channel.size(), -1);
  const std::size_t checked = tasks.add({}, [&job](unsigned) { require_warmup_and_a_bit_per_sample(job); });
  for (std::size_t p = 0; p < present.channel.size(); ++p) {
    if (!(*job.needed)[p]) continue;
    residual_task[p] = static_cast<std::int64_t>(tasks.add({&checked, 1}, [&meta, &job, &present, &r, p](unsigned) {
      r.folded[p].resize(present.sample_count[p]);
      bool flag = false;
      const auto stream = job.stream(p);
      if (!format::decode_golomb_stream_residuals(stream.data(), stream.size(), present.sample_count[p], meta.codec.partition_size,
                                                  &r.first_code[p], &flag, r.folded[p].data()))
        throw job.stream_error(p, "malformed " + meta.codec.name + " stream");
      r.adapt[p] = flag;
    }));
  }
}

class MoDecoder final : public DecoderFamily {
 public:
  void add_sources(const format::Metadata& meta, const format::ChunkChannels& present, std::vector<char>& needed) const override {
    add_middle_out_sources(meta, present, needed);
  }

  void decode(const format::Metadata& meta, std::span<ChunkDecodeJob> jobs, unsigned threads) const override {
    // The streams to residuals, then the groups (each after its lanes' residuals and the groups
    // of their sources), as tasks on the threads.
    DependentTasks tasks;
    std::vector<Residuals> residuals(jobs.size());
    std::vector<std::vector<std::int64_t>> residual_task(jobs.size()), task_of(jobs.size());
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      plan_residuals(meta, jobs[j], residuals[j], tasks, residual_task[j]);
      task_of[j].assign(jobs[j].present->channel.size(), -1);
    }
    std::uint32_t max_depth = 0;
    const std::vector<std::uint32_t> depth = mo_channel_depths(meta, &max_depth);
    struct Lane {
      std::size_t job;
      std::size_t p;
    };
    const auto decode_group = [&meta, jobs, &residuals](const std::vector<Lane>& batch, std::uint32_t n) {
      lanes::MoLaneGroup group;
      group.lanes = static_cast<int>(batch.size());
      group.n = n;
      std::vector<std::int32_t> weights[lanes::kLanes], source_buffers[lanes::kLanes * format::kMaxMoSources];
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
    const auto flush = [&](std::span<const Lane> batch, std::uint32_t n) {
      std::vector<std::size_t> after;
      for (const Lane& lane : batch) {
        const format::ChunkChannels& present = *jobs[lane.job].present;
        after.push_back(static_cast<std::size_t>(residual_task[lane.job][lane.p]));
        for (const auto& s : meta.channels[present.channel[lane.p]].predictor.sources) {
          const std::int64_t q = present.position(s.channel);
          if (q >= 0 && task_of[lane.job][static_cast<std::size_t>(q)] >= 0) after.push_back(static_cast<std::size_t>(task_of[lane.job][static_cast<std::size_t>(q)]));
        }
      }
      const std::size_t task = tasks.add(after, [&decode_group, lanes_of_group = std::vector<Lane>(batch.begin(), batch.end()), n](unsigned) {
        decode_group(lanes_of_group, n);
      });
      for (const Lane& lane : batch) task_of[lane.job][lane.p] = static_cast<std::int64_t>(task);
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
    tasks.run(threads);
  }
};

}  // namespace

const DecoderFamily& mo_decoder() {
  static const MoDecoder decoder;
  return decoder;
}

}  // namespace spikey::host::codecs
