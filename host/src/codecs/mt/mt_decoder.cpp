// The decoder of codecs mt1-mt3 (SPEC.md §6.9.6): the MiddleOut prediction of up to kLanes
// channels in lockstep (mo_lane_decoding.hpp), with each lane's residual decoded from its own
// rANS stream as soon as the lane's predicted code is known (the table depends on it).
#include <algorithm>
#include <memory>

#include "codecs/decoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/mo/mo_lane_decoding.hpp"
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
class MtLaneSource final : public LaneStreams {
 public:
  MtLaneSource(const MtTables& tables, int lanes, std::uint32_t segment_residuals) : segment_residuals_(segment_residuals) {
    batch_.lanes = lanes;
    batch_.tables = &tables;
  }

  bool start(int l, std::uint32_t lag, std::span<const std::uint8_t> stream, const f::ChannelInfo&, std::uint32_t n, bool* adapt,
             std::int32_t* first_code) override {
    const auto segment_residuals = static_cast<std::uint32_t>(segment_residuals_);
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
    return start_segments_at(step) && lanes::mt_decode_step(batch_, live, base, z, &failed_lane);
  }

  // Two groups of the same tables in one step (mt_decode_steps).
  bool residuals_with(lanes::MoResidualSource& other_source, std::uint32_t step, const unsigned* live, const std::int32_t* const* base,
                      std::int32_t* const* z, int* which) override {
    if (&other_source != paired_with_) {  // the pair is the same at every step: cast once
      paired_with_ = &other_source;
      paired_mt_ = dynamic_cast<MtLaneSource*>(&other_source);
      if (paired_mt_ != nullptr && paired_mt_->batch_.tables != batch_.tables) paired_mt_ = nullptr;
    }
    MtLaneSource* other = paired_mt_;
    if (other == nullptr) return LaneStreams::residuals_with(other_source, step, live, base, z, which);
    if (!start_segments_at(step)) return *which = 0, false;
    if (!other->start_segments_at(step)) {
      *which = residuals(step, live[0], base[0], z[0]) ? 1 : 0;  // this one steps alone
      return false;
    }
    int failed_batch = 0, lane = -1;
    if (lanes::mt_decode_steps(batch_, other->batch_, live, base, z, &failed_batch, &lane)) return true;
    (failed_batch == 0 ? failed_lane : other->failed_lane) = lane;
    return *which = failed_batch, false;
  }

  // The stream ended where it should: its last segment, finished cleanly.
  bool finished(int l) const override { return segment_[l] + 1 == segments_[l].count() && finished_segment(l); }

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
  // Lanes whose streams start a segment at this step read its state.
  bool start_segments_at(std::uint32_t step) {
    if (step != next_event_) return true;
    next_event_ = kNever;
    for (int l = 0; l < batch_.lanes; ++l) {
      if (step == next_boundary_[l] + lag_[l]) {
        if (failed_lane = l; !finished_segment(l) || !start_segment(l, segment_[l] + 1)) return false;
        next_boundary_[l] += segment_residuals_;
        if (next_boundary_[l] >= n_) next_boundary_[l] = kNever;  // that was its last segment
      }
      next_event_ = std::min(next_event_, next_boundary_[l] + lag_[l]);
    }
    return true;
  }

  lanes::MtLaneBatch batch_;
  lanes::MoResidualSource* paired_with_ = nullptr;  // residuals_with's last other source, and it as this class (or null)
  MtLaneSource* paired_mt_ = nullptr;
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

  void decode(const f::Metadata& meta, std::span<ChunkDecodeJob> jobs, unsigned threads) const override {
    const std::shared_ptr<const MtTables> tables = mt_tables_for(meta.codec);
    for (const ChunkDecodeJob& job : jobs)
      for (std::size_t p = 0; p < job.present->channel.size(); ++p)  // reject impossible sizes before allocating
        if ((*job.needed)[p] && job.dir->stream_size[p] < f::kMtSegmentStateBytes) throw job.stream_error(p, "stream too short for its header");
    decode_in_lane_groups(
        meta, jobs, [&](int lanes, unsigned) { return std::make_unique<MtLaneSource>(*tables, lanes, meta.codec.partition_size); }, threads);
  }
};

}  // namespace

const DecoderFamily& mt_decoder() {
  static const MtDecoder decoder;
  return decoder;
}

}  // namespace spikey::host::codecs
