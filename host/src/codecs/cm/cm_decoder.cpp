// The decoder of codecs cm1-cm3 (SPEC.md §6.9): the MiddleOut prediction of up to kLanes
// channels in lockstep (mo_lane_decoding.hpp), each lane's residual decoded from its own rANS
// stream under the context model (cm_decode_residual) once the lane's predicted code is known.
// The same codes as decode_cm_stream, the scalar reference, channel after channel.
#include <algorithm>
#include <memory>
#include <vector>

#include "codecs/decoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/mo/mo_lane_decoding.hpp"
#include "codecs/mo/mo_sources.hpp"
#include "spikey/format/codecs/cm/cm_stream.hpp"
#include "spikey/format/codecs/cm/cm_tables.hpp"

namespace spikey::host::codecs {

namespace f = spikey::format;

namespace {

// The lanes' streams: each with its channel's tables (its value map's code range bounds the
// prior), one cache of normalisers and interval starts for all (CmNormaliserCache: where a
// window lies inside the code range, the distribution depends on the class and the phase of
// the predicted code only, so decoding searches its kept starts instead of walking the window).
class CmLaneSource final : public LaneStreams {
 public:
  CmLaneSource(const f::CmModelTables& model, f::CmNormaliserCache& cache) : model_(model), cache_(cache) {}

  bool start(int l, std::uint32_t, std::span<const std::uint8_t> stream, const f::ChannelInfo& channel, std::uint32_t, bool* adapt,
             std::int32_t* first_code) override {
    tables_[l] = model_.for_map(channel.value_map);
    scale_[l] = f::kCmScaleStart;
    return f::cm_start_stream(stream.data(), stream.size(), rans_[l], adapt, first_code);
  }

  bool residuals(std::uint32_t, unsigned live, const std::int32_t* base, std::int32_t* z) override {
    for (int l = 0; l < lanes::kLanes; ++l) {
      z[l] = 0;
      if (!((live >> l) & 1)) continue;
      const f::CmTables& t = tables_[l];
      const int k = f::cm_class_of(scale_[l]);
      if (!decode(t, k, base[l], rans_[l], &z[l]) || rans_[l].overran) return failed_lane = l, false;
      scale_[l] = f::cm_next_scale(scale_[l], z[l], t.scale_rate);
    }
    return true;
  }

  bool finished(int l) const override { return rans_[l].finished_cleanly(); }

 private:
  bool decode(const f::CmTables& t, int k, std::int32_t base, f::RansDecoder& rans, std::int32_t* z) {
    const f::CmCachedCum d = f::CmCachedNormaliser{&t, &cache_}.distribution(k, base);
    return f::cm_decode_residual(t, k, rans, z, d);
  }

  const f::CmModelTables& model_;
  f::CmNormaliserCache& cache_;
  f::CmTables tables_[lanes::kLanes];
  f::RansDecoder rans_[lanes::kLanes];
  std::int32_t scale_[lanes::kLanes] = {};
};

class CmDecoder final : public DecoderFamily {
 public:
  void add_sources(const f::Metadata& meta, const f::ChunkChannels& present, std::vector<char>& needed) const override {
    add_middle_out_sources(meta, present, needed);
  }

  void decode(const f::Metadata& meta, std::span<ChunkDecodeJob> jobs, unsigned threads) const override {
    for (const ChunkDecodeJob& job : jobs)
      for (std::size_t p = 0; p < job.present->channel.size(); ++p)  // reject impossible sizes before allocating
        if ((*job.needed)[p] && job.dir->stream_size[p] < f::kCmStreamHeaderBytes) throw job.stream_error(p, "stream too short for its header");
    const f::CmModelTables model(meta.codec);
    std::vector<f::CmNormaliserCache> caches;  // one per decoding thread: the cache fills as it is read
    for (unsigned w = 0; w < std::max(1u, threads); ++w) caches.emplace_back(static_cast<std::uint32_t>(meta.codec.cm_prior.size()));
    decode_in_lane_groups(meta, jobs, [&](int, unsigned worker) { return std::make_unique<CmLaneSource>(model, caches[worker]); }, threads);
  }
};

}  // namespace

const DecoderFamily& cm_decoder() {
  static const CmDecoder decoder;
  return decoder;
}

}  // namespace spikey::host::codecs
