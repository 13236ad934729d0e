// The decoder of codecs mt1-mt3 (SPEC.md §6.9.6): the MiddleOut prediction of up to kLanes
// channels in lockstep, with each lane's residual decoded from its own rANS stream as soon as
// the lane's predicted code is known (the table depends on it). Channels go depth by depth of the
// decoding order, and a level's channels of all the jobs' chunks fill the lanes together.
#include <algorithm>

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
// (mt_decode_step) as the prediction gives each step's predicted codes.
class MtLaneSource final : public lanes::MoResidualSource {
 public:
  MtLaneSource(const MtTables& tables, int lanes) {
    batch_.lanes = lanes;
    batch_.tables = &tables;
  }

  // Opens lane l's stream and reads its header: the adapt flag and the first code.
  bool start(int l, std::span<const std::uint8_t> stream, std::uint32_t n, std::uint32_t segment_residuals, bool* adapt, std::int32_t* first_code) {
    segment_residuals_ = segment_residuals;
    next_boundary_ = std::uint64_t{segment_residuals} + 1;
    if (!segments_[l].open(stream, n, segment_residuals) || !start_segment(l, 0)) return false;
    f::RansDecoder d = batch_.decoder(l);
    *adapt = d.get_bits(1) != 0;
    const bool ok = f::cm_decode_integer(d, first_code) && !d.overran;
    batch_.take(l, d);
    batch_.scale[l] = f::kCmScaleStart;
    return ok;
  }

  bool residuals(std::uint32_t t, const std::int32_t* base, std::int32_t* z) override {
    if (t == next_boundary_) {  // every lane's stream starts a segment here (same n, same S)
      for (int l = 0; l < batch_.lanes; ++l)
        if (failed_lane = l; !finished_segment(l) || !start_segment(l, segment_[l] + 1)) return false;
      next_boundary_ += segment_residuals_;
    }
    return lanes::mt_decode_step(batch_, base, z, &failed_lane);
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
  std::uint64_t segment_residuals_ = 1, next_boundary_ = 2;
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
    struct Lane {
      std::size_t job;
      std::size_t p;
    };
    std::vector<std::vector<std::int32_t>> weights(lanes::kLanes), source_buffers(lanes::kLanes * f::kMaxMoSources);
    const auto flush = [&](std::span<const Lane> batch, std::uint32_t n) {
      lanes::MoLaneGroup group;
      group.lanes = static_cast<int>(batch.size());
      group.n = n;
      MtLaneSource source(*tables, group.lanes);
      std::int32_t first[lanes::kLanes] = {};
      std::int32_t* out[lanes::kLanes] = {};
      for (std::size_t l = 0; l < batch.size(); ++l) {
        const ChunkDecodeJob& job = jobs[batch[l].job];
        const std::size_t p = batch[l].p;
        auto& codes = *job.codes;
        const f::ChannelPredictor& predictor = meta.channels[job.present->channel[p]].predictor;
        bool adapt = false;
        if (!source.start(static_cast<int>(l), job.stream(p), n, meta.codec.partition_size, &adapt, &first[l]))
          throw job.stream_error(p, "malformed " + meta.codec.name + " stream header");
        group.model[l] = f::mo_model_of(predictor, meta.codec);
        if (!adapt) group.model[l].lms_step = 0;
        weights[l] = f::initial_weights(predictor);
        group.weights[l] = weights[l].data();
        fill_middle_out_sources(predictor, *job.present, codes, n, &source_buffers[l * f::kMaxMoSources], group.sources[l]);
        codes[p].resize(n);
        out[l] = codes[p].data();
      }
      const bool decoded = lanes::mo_reconstruct_from(group, first, source, out);
      for (std::size_t l = 0; l < batch.size(); ++l)
        if ((!decoded && source.failed_lane == static_cast<int>(l)) || (decoded && !source.finished(static_cast<int>(l))))
          throw jobs[batch[l].job].stream_error(batch[l].p, "malformed " + meta.codec.name + " stream");
    };
    for (std::uint32_t level = 0; level <= max_depth; ++level) {
      // Channels with and without the network stage in separate groups: a group pays for the
      // network when any of its lanes uses it.
      for (const bool network : {false, true}) {
        lanes::LaneBatcher<Lane, decltype(flush)> batcher(flush);
        for (std::size_t j = 0; j < jobs.size(); ++j) {
          const f::ChunkChannels& present = *jobs[j].present;
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

const DecoderFamily& mt_decoder() {
  static const MtDecoder decoder;
  return decoder;
}

}  // namespace spikey::host::codecs
