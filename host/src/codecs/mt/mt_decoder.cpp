// The decoder of codecs mt1-mt3 (SPEC.md §6.9.6): the MiddleOut prediction of up to kLanes
// channels in lockstep, with each lane's residual decoded from its own rANS stream as soon as
// the lane's predicted code is known (the table depends on it). Channels go depth by depth of the
// decoding order, the jobs' chunks side by side; a channel whose sources are still being decoded
// in the open group joins it, running W + 1 steps behind each of them (MoLaneGroup::lag), so
// that chains of sources fill the lanes instead of leaving them idle level by level.
#include <algorithm>
#include <map>

#include "codecs/decoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/lanes/lane_batcher.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mo/mo_sources.hpp"
#include "codecs/mt/mt_lanes.hpp"
#include "codecs/mt/mt_tables.hpp"
#include "spikey/format/codecs/mt/mt_stream.hpp"
#include "spikey/format/codecs/stored_models.hpp"
#include "spikey/format/wire.hpp"

namespace spikey::host::codecs {

namespace f = spikey::format;

namespace {

// One channel's stream: its segment directory.
class MtSegments {
 public:
  // Parses the directory; false when the sizes do not fit the stream.
  bool open(std::span<const std::uint8_t> stream, std::uint32_t n, std::uint32_t segment_residuals) {
    count_ = f::mt_segment_count(n, segment_residuals);
    std::size_t at = 0;
    std::uint64_t used = 0;
    offsets_.clear();
    for (std::uint32_t i = 0; i + 1 < count_; ++i) {
      std::uint64_t size = 0;
      if (!f::read_leb128(stream, &at, f::kMtMaxSegmentSizeBytes, &size) || size > 0xffffffffu) return false;
      offsets_.push_back(used);
      used += size;
    }
    if (used > stream.size() - at) return false;
    offsets_.push_back(used);
    offsets_.push_back(stream.size() - at);
    body_ = stream.subspan(at);
    return true;
  }
  std::uint32_t count() const { return count_; }
  std::span<const std::uint8_t> segment(std::uint32_t i) const { return body_.subspan(offsets_[i], offsets_[i + 1] - offsets_[i]); }

 private:
  std::span<const std::uint8_t> body_;
  std::vector<std::uint64_t> offsets_;  // count + 1 boundaries within body_
  std::uint32_t count_ = 1;
};

// The residuals of a lane group: every lane's stream segments, decoded in lockstep
// (mt_decode_step) as the prediction gives each step's predicted codes; lane l at its time
// step - lag[l].
class MtLaneSource final : public lanes::MoResidualSource {
 public:
  MtLaneSource(const MtTables& tables, int lanes) {
    batch_.lanes = lanes;
    batch_.tables = &tables;
  }

  // Opens lane l's stream and reads its header: the adapt flag and the first code.
  bool start(int l, std::uint32_t lag, std::span<const std::uint8_t> stream, std::uint32_t n, std::uint32_t segment_residuals, bool* adapt,
             std::int32_t* first_code) {
    segment_residuals_ = segment_residuals;
    lag_[l] = lag;
    next_boundary_[l] = std::uint64_t{segment_residuals} + 1;
    n_ = n;
    if (next_boundary_[l] >= n) next_boundary_[l] = kNever;  // one segment
    next_event_ = std::min(next_event_, next_boundary_[l] + lag);
    if (!segments_[l].open(stream, n, segment_residuals) || !start_segment(l, 0)) return false;
    f::RansDecoder d = batch_.decoder(l);
    *adapt = d.get_bits(1) != 0;
    const bool ok = f::cm_decode_integer(d, first_code) && !d.overran;
    batch_.take(l, d);
    batch_.scale[l] = f::kCmScaleStart;
    return ok;
  }

  bool residuals(std::uint32_t step, unsigned live, const std::int32_t* base, std::int32_t* z) override {
    if (step == next_event_) {  // some lane's stream starts a segment here
      next_event_ = kNever;
      for (int l = 0; l < batch_.lanes; ++l) {
        if (step == next_boundary_[l] + lag_[l]) {
          if (failed_lane = l; !finished_segment(l) || !start_segment(l, segment_[l] + 1)) return false;
          next_boundary_[l] += segment_residuals_;
          if (next_boundary_[l] >= n_) next_boundary_[l] = kNever;  // that was its last segment
        }
        next_event_ = std::min(next_event_, next_boundary_[l] + lag_[l]);
      }
    }
    return lanes::mt_decode_step(batch_, live, base, z, &failed_lane);
  }

  // The stream ended where it should: its last segment, finished cleanly.
  bool finished(int l) const { return segment_[l] + 1 == segments_[l].count() && finished_segment(l); }

  int failed_lane = -1;  // the lane whose stream stopped the group

 private:
  bool start_segment(int l, std::uint32_t i) {
    if (i >= segments_[l].count()) return false;
    segment_[l] = i;
    const auto bytes = segments_[l].segment(i);
    f::RansDecoder d;
    const bool ok = f::mt_start_segment(bytes.data(), bytes.size(), d);
    batch_.take(l, d);
    return ok;
  }
  bool finished_segment(int l) const { return batch_.decoder(l).finished_cleanly(); }

  lanes::MtLaneBatch batch_;
  MtSegments segments_[lanes::kLanes];
  std::uint32_t segment_[lanes::kLanes] = {};
  std::uint64_t lag_[lanes::kLanes] = {};
  std::uint64_t next_boundary_[lanes::kLanes] = {};  // the lane's time of its next segment's first residual
  static constexpr std::uint64_t kNever = std::uint64_t{1} << 62;
  std::uint64_t segment_residuals_ = 1, next_event_ = kNever, n_ = 0;
};

class MtDecoder final : public DecoderFamily {
 public:
  void add_sources(const f::Metadata& meta, const f::ChunkChannels& present, std::vector<char>& needed) const override {
    add_middle_out_sources(meta, present, needed);
  }

  void decode(const f::Metadata& meta, std::span<ChunkDecodeJob> jobs) const override {
    const std::shared_ptr<const MtTables> tables = mt_tables_for(meta.codec);
    for (const ChunkDecodeJob& job : jobs)
      for (std::size_t p = 0; p < job.present->channel.size(); ++p)  // reject impossible sizes before allocating
        if ((*job.needed)[p] && job.dir->stream_size[p] < f::kMtSegmentStateBytes) throw job.stream_error(p, "stream too short for its header");
    std::vector<std::uint32_t> depth(meta.channels.size(), 0);
    std::uint32_t max_depth = 0;
    for (const std::uint32_t c : f::mo_decoding_order(meta)) {
      for (const auto& s : meta.channels[c].predictor.sources) depth[c] = std::max(depth[c], depth[static_cast<std::size_t>(s.channel)] + 1);
      max_depth = std::max(max_depth, depth[c]);
    }
    // Open groups by sample count, with the network stage and without (a group pays for the
    // network when any of its lanes uses it); a lane is a channel of a job.
    struct Lane {
      std::size_t job = 0, p = 0;
      std::uint32_t lag = 0;
      std::uint8_t in_group_source[f::kMaxMoSources] = {};
    };
    struct OpenGroup {
      std::vector<Lane> lanes;
      std::uint32_t n = 0;
    };
    std::map<std::pair<std::uint32_t, int>, OpenGroup> open;
    std::vector<std::vector<std::int8_t>> lane_of(jobs.size());  // per job, per present channel: its lane in an open group, or -1
    std::vector<std::vector<std::int8_t>> group_of(jobs.size());
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      lane_of[j].assign(jobs[j].present->channel.size(), -1);
      group_of[j].assign(jobs[j].present->channel.size(), -1);
    }
    std::vector<std::vector<std::int32_t>> weights(lanes::kLanes), source_buffers(lanes::kLanes * f::kMaxMoSources);
    const auto flush = [&](OpenGroup& og) {
      if (og.lanes.empty()) return;
      const std::uint32_t n = og.n;
      lanes::MoLaneGroup group;
      group.lanes = static_cast<int>(og.lanes.size());
      group.n = n;
      MtLaneSource source(*tables, group.lanes);
      std::int32_t first[lanes::kLanes] = {};
      std::int32_t* out[lanes::kLanes] = {};
      for (std::size_t l = 0; l < og.lanes.size(); ++l) {
        const Lane& lane = og.lanes[l];
        const ChunkDecodeJob& job = jobs[lane.job];
        const std::size_t p = lane.p;
        auto& codes = *job.codes;
        const f::ChannelPredictor& predictor = meta.channels[job.present->channel[p]].predictor;
        bool adapt = false;
        if (!source.start(static_cast<int>(l), lane.lag, job.stream(p), n, meta.codec.partition_size, &adapt, &first[l]))
          throw job.stream_error(p, "malformed " + meta.codec.name + " stream header");
        group.model[l] = f::mo_model_of(predictor, meta.codec);
        if (!adapt) group.model[l].lms_step = 0;
        weights[l] = f::initial_weights(predictor);
        group.weights[l] = weights[l].data();
        group.lag[l] = lane.lag;
        std::copy(std::begin(lane.in_group_source), std::end(lane.in_group_source), group.in_group_source[l]);
        fill_middle_out_sources(predictor, *job.present, codes, n, &source_buffers[l * f::kMaxMoSources], group.sources[l]);
        codes[p].resize(n);
        out[l] = codes[p].data();
      }
      const bool decoded = lanes::mo_reconstruct_from(group, first, source, out);
      for (std::size_t l = 0; l < og.lanes.size(); ++l) {
        if ((!decoded && source.failed_lane == static_cast<int>(l)) || (decoded && !source.finished(static_cast<int>(l))))
          throw jobs[og.lanes[l].job].stream_error(og.lanes[l].p, "malformed " + meta.codec.name + " stream");
        lane_of[og.lanes[l].job][og.lanes[l].p] = -1;
        group_of[og.lanes[l].job][og.lanes[l].p] = -1;
      }
      if (!decoded) throw jobs[og.lanes[0].job].stream_error(og.lanes[0].p, "malformed " + meta.codec.name + " stream");
      og.lanes.clear();
    };
    const auto add = [&](std::size_t j, std::size_t p) {
      const ChunkDecodeJob& job = jobs[j];
      const f::ChunkChannels& present = *job.present;
      const f::ChannelPredictor& predictor = meta.channels[present.channel[p]].predictor;
      const std::uint32_t n = present.sample_count[p];
      // The lane joins the open group that holds its sources, if any (a channel without the
      // network may then ride in a group with it), else the group of its kind. A source in any
      // other open group is decoded first.
      int which = predictor.uses_network() ? 1 : 0;
      for (const auto& s : predictor.sources) {
        const std::int64_t q = present.position(s.channel);
        if (q >= 0 && group_of[j][static_cast<std::size_t>(q)] >= 0 && present.sample_count[static_cast<std::size_t>(q)] == n)
          which = group_of[j][static_cast<std::size_t>(q)];
      }
      for (const auto& s : predictor.sources) {
        const std::int64_t q = present.position(s.channel);
        if (q < 0 || group_of[j][static_cast<std::size_t>(q)] < 0) continue;
        const std::pair<std::uint32_t, int> key{present.sample_count[static_cast<std::size_t>(q)], group_of[j][static_cast<std::size_t>(q)]};
        if (key != std::pair<std::uint32_t, int>{n, which}) flush(open[key]);
      }
      OpenGroup& og = open[{n, which}];
      Lane lane{j, p};
      const auto half_window = static_cast<std::uint32_t>(f::mo_model_of(predictor, meta.codec).half_window);
      for (std::size_t k = 0; k < predictor.sources.size(); ++k) {
        const std::int64_t q = present.position(predictor.sources[k].channel);
        if (q < 0 || group_of[j][static_cast<std::size_t>(q)] < 0) continue;  // decoded: its buffer is filled from its codes
        const auto source_lane = static_cast<std::size_t>(lane_of[j][static_cast<std::size_t>(q)]);
        lane.in_group_source[k] = static_cast<std::uint8_t>(source_lane + 1);
        lane.lag = std::max(lane.lag, og.lanes[source_lane].lag + half_window + 1);
      }
      og.n = n;
      lane_of[j][p] = static_cast<std::int8_t>(og.lanes.size());
      group_of[j][p] = static_cast<std::int8_t>(which);
      og.lanes.push_back(lane);
      if (og.lanes.size() == static_cast<std::size_t>(lanes::kLanes)) flush(og);
    };
    for (std::uint32_t level = 0; level <= max_depth; ++level)
      for (std::size_t j = 0; j < jobs.size(); ++j) {
        const f::ChunkChannels& present = *jobs[j].present;
        for (std::size_t p = 0; p < present.channel.size(); ++p)
          if ((*jobs[j].needed)[p] && depth[present.channel[p]] == level) add(j, p);
      }
    for (auto& [key, og] : open) flush(og);
  }
};

}  // namespace

const DecoderFamily& mt_decoder() {
  static const MtDecoder decoder;
  return decoder;
}

}  // namespace spikey::host::codecs
