// Codec lpc1's decoder (SPEC.md §6.5-§6.6): each stream's Golomb-coded residuals, then the
// prediction for up to kLanes channels at once, sources before the channels predicted from
// them (sources are one level deep).
#include "codecs/decoder_family.hpp"
#include "codecs/dependent_tasks.hpp"
#include "codecs/families.hpp"
#include "codecs/lanes/lane_batcher.hpp"
#include "codecs/lpc/lpc_lane_setup.hpp"
#include "codecs/lpc/lpc_lanes.hpp"
#include "codecs/stream_checks.hpp"
#include "spikey/format/codecs/common/golomb_stream.hpp"

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

  void decode(const format::Metadata& meta, std::span<ChunkDecodeJob> jobs, unsigned threads) const override {
    DependentTasks tasks;
    std::vector<ChunkState> states(jobs.size());
    for (std::size_t j = 0; j < jobs.size(); ++j) plan_chunk(meta, jobs[j], states[j], tasks);
    tasks.run(threads);
  }

 private:
  struct ChunkState {
    // Not zero-filled, as the codes (every entry is decoded before it is read).
    std::vector<std::vector<std::uint32_t, UninitializedAllocator<std::uint32_t>>> folded;
    std::vector<std::int32_t> first_code;
    std::vector<char> adapt;
    std::vector<std::int64_t> residual_task, task_of;  // per present channel: the tasks decoding its stream and its codes
  };

  // Adds the tasks of one chunk: its streams to residuals (after a check of their sizes), then
  // the prediction, sources first (each group after its lanes' residuals and their sources).
  static void plan_chunk(const format::Metadata& meta, const ChunkDecodeJob& job, ChunkState& state, DependentTasks& tasks) {
    const format::ChunkChannels& present = *job.present;
    const std::vector<char>& needed = *job.needed;
    state.folded.resize(present.channel.size());
    state.first_code.assign(present.channel.size(), 0);
    state.adapt.assign(present.channel.size(), 0);
    state.residual_task.assign(present.channel.size(), -1);
    state.task_of.assign(present.channel.size(), -1);
    const std::size_t checked = tasks.add({}, [&job](unsigned) { require_warmup_and_a_bit_per_sample(job); });
    for (std::size_t p = 0; p < present.channel.size(); ++p) {
      if (!needed[p]) continue;
      state.residual_task[p] = static_cast<std::int64_t>(tasks.add({&checked, 1}, [&meta, &job, &present, &state, p](unsigned) {
        state.folded[p].resize(present.sample_count[p]);
        bool flag = false;
        const auto stream = job.stream(p);
        if (!format::decode_golomb_stream_residuals(stream.data(), stream.size(), present.sample_count[p], meta.codec.partition_size,
                                                    &state.first_code[p], &flag, state.folded[p].data()))
          throw job.stream_error(p, "malformed lpc1 stream");
        state.adapt[p] = flag;
      }));
    }
    const auto decode_group = [&meta, &job, &present, &state](const std::vector<std::size_t>& batch, std::uint32_t n) {
      auto& codes = *job.codes;
      lanes::LpcLaneGroup group;
      group.lanes = static_cast<int>(batch.size());
      group.n = n;
      group.weight_shift = static_cast<int>(meta.codec.weight_shift);
      std::vector<std::int32_t> weights[lanes::kLanes], source_buffers[lanes::kLanes];
      std::int32_t first[lanes::kLanes] = {};
      const std::uint32_t* in[lanes::kLanes] = {};
      std::int32_t* out_codes[lanes::kLanes] = {};
      for (std::size_t l = 0; l < batch.size(); ++l) {
        const std::size_t p = batch[l];
        set_lpc_lane(group, static_cast<int>(l), meta.channels[present.channel[p]].predictor, present, codes, weights[l], source_buffers[l]);
        if (!state.adapt[p]) group.model[l].lms_step = 0;
        first[l] = state.first_code[p];
        in[l] = state.folded[p].data();
        codes[p].resize(n);
        out_codes[l] = codes[p].data();
      }
      lanes::lpc_reconstruct(group, first, in, out_codes);
    };
    const auto flush = [&](std::span<const std::size_t> batch, std::uint32_t n) {
      std::vector<std::size_t> after;
      for (const std::size_t p : batch) {
        after.push_back(static_cast<std::size_t>(state.residual_task[p]));
        const std::int64_t q = present.position(meta.channels[present.channel[p]].predictor.source_channel());
        if (q >= 0 && state.task_of[static_cast<std::size_t>(q)] >= 0) after.push_back(static_cast<std::size_t>(state.task_of[static_cast<std::size_t>(q)]));
      }
      const std::size_t task = tasks.add(after, [decode_group, lanes_of_group = std::vector<std::size_t>(batch.begin(), batch.end()), n](unsigned) {
        decode_group(lanes_of_group, n);
      });
      for (const std::size_t p : batch) state.task_of[p] = static_cast<std::int64_t>(task);
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
