// The decoder of codecs cm1-cm3 (SPEC.md §6.9): the MiddleOut prediction of up to kLanes
// channels in lockstep (mo_lane_decoding.hpp), each lane's residual decoded from its own rANS
// stream under the context model (cm_decode_residual: the window walked for the predicted
// code) once the lane's predicted code is known. The same codes as decode_cm_stream, the
// scalar reference, channel after channel.
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

// The normaliser and the cumulative frequencies of the central positions (|j| <= 31) of each
// (class, prior phase) distribution met, built on first use: where a window lies inside the
// value map's code range (cm_window_inside), the distribution depends on the class and the
// phase of the predicted code only, so decoding is a search in a short table instead of a walk
// that multiplies out every weight on the way. The same cum and freq as cm_decode_residual's
// walk, position by position.
class CmCentralTables {
 public:
  static constexpr std::uint32_t kCentral = 63;
  struct Table {
    std::uint64_t normaliser = 0;
    std::uint32_t central = 0;
    std::uint32_t cum[kCentral + 1] = {};
  };
  explicit CmCentralTables(std::uint32_t prior_period) : period_(prior_period), tables_(static_cast<std::size_t>(f::kCmClasses) * prior_period) {}

  // Class k's table for `base`, whose window lies inside `t`'s code range (cm_window_inside).
  const Table& get(const f::CmTables& t, int k, std::int32_t base) {
    const std::uint32_t phase = t.shift[k] != 0 ? 0u : static_cast<std::uint32_t>(base) & (period_ - 1);
    std::unique_ptr<Table>& slot = tables_[static_cast<std::size_t>(k) * period_ + phase];
    if (!slot) {
      slot = std::make_unique<Table>();
      const std::uint64_t normaliser = f::cm_normaliser(t, k, base);
      slot->normaliser = normaliser;
      slot->central = std::min(kCentral, 2u * static_cast<std::uint32_t>(t.half_width[k]) + 1u);
      slot->cum[0] = f::kCmEscapeFrequency;
      for (std::uint32_t u = 0; u < slot->central; ++u) slot->cum[u + 1] = slot->cum[u] + f::cm_frequency(t, k, base, f::zigzag_decode(u), normaliser);
    }
    return *slot;
  }

 private:
  std::uint32_t period_;
  std::vector<std::unique_ptr<Table>> tables_;
};

// The lanes' streams: each with its channel's tables (its value map's code range bounds the
// prior), one cache of central tables for all.
class CmLaneSource final : public LaneStreams {
 public:
  CmLaneSource(const f::CmModelTables& model, CmCentralTables& central) : model_(model), central_(central) {}

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
  // cm_decode_residual, through the central table where the window lies inside the code range
  // and the slot falls in the table.
  bool decode(const f::CmTables& t, int k, std::int32_t base, f::RansDecoder& rans, std::int32_t* z) {
    if (!f::cm_window_inside(t, k, base)) return f::cm_decode_residual(t, k, base, f::cm_normaliser(t, k, base), rans, z);
    const CmCentralTables::Table& table = central_.get(t, k, base);
    const std::uint32_t slot = rans.slot();
    if (slot >= f::kCmEscapeFrequency && slot < table.cum[table.central]) {
      std::uint32_t u = 0;
      while (table.cum[u + 1] <= slot) ++u;
      rans.advance(table.cum[u], table.cum[u + 1] - table.cum[u]);
      *z = f::cm_residual(f::zigzag_decode(u), rans.get_bits(t.shift[k]), t.shift[k]);
      return true;
    }
    return f::cm_decode_residual(t, k, base, table.normaliser, rans, z);
  }

  const f::CmModelTables& model_;
  CmCentralTables& central_;
  f::CmTables tables_[lanes::kLanes];
  f::RansDecoder rans_[lanes::kLanes];
  std::int32_t scale_[lanes::kLanes] = {};
};

class CmDecoder final : public DecoderFamily {
 public:
  void add_sources(const f::Metadata& meta, const f::ChunkChannels& present, std::vector<char>& needed) const override {
    add_middle_out_sources(meta, present, needed);
  }

  void decode(const f::Metadata& meta, std::span<ChunkDecodeJob> jobs) const override {
    for (const ChunkDecodeJob& job : jobs)
      for (std::size_t p = 0; p < job.present->channel.size(); ++p)  // reject impossible sizes before allocating
        if ((*job.needed)[p] && job.dir->stream_size[p] < f::kCmStreamHeaderBytes) throw job.stream_error(p, "stream too short for its header");
    const f::CmModelTables model(meta.codec);
    CmCentralTables central(static_cast<std::uint32_t>(meta.codec.cm_prior.size()));
    decode_in_lane_groups(meta, jobs, [&](int) { return std::make_unique<CmLaneSource>(model, central); });
  }
};

}  // namespace

const DecoderFamily& cm_decoder() {
  static const CmDecoder decoder;
  return decoder;
}

}  // namespace spikey::host::codecs
