// The mt codecs' tables on the host (SPEC.md §6.9.6): every (scale class, prior phase) table of
// an archive's context model, built once per model and shared by every decoder and encoder
// thread that reads it. Flat arrays, so that the lockstep decoder finds the tables of eight
// lanes with gathers: class k, phase p at slot k * kPhases + p.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/codecs/cm/cm_tables.hpp"
#include "spikey/format/codecs/mt/mt_model.hpp"

namespace spikey::host::codecs {

class MtTables {
 public:
  static constexpr std::uint32_t kPhases = format::kMtMaxPriorPeriod;                            // slots per class
  static constexpr std::size_t kStride = format::kMtCentralPositions + 1 + format::kMtProbePad;  // cum entries per slot
  static constexpr std::uint32_t kProbePad = 0x7fffffff;  // cum past a table's end: above every slot, positive as int32

  explicit MtTables(const format::CodecParams& codec);
  MtTables(const MtTables&) = delete;
  MtTables& operator=(const MtTables&) = delete;

  // The table of class k for a predicted code `base` (the general path).
  format::MtTable table(int k, std::int32_t base) const {
    format::MtTable t = views_[static_cast<std::size_t>(k)];
    t.phase = static_cast<std::uint32_t>(base) & phase_mask_[static_cast<std::size_t>(k)];
    const std::size_t slot = static_cast<std::size_t>(k) * kPhases + t.phase;
    t.cum = cum_.data() + slot * kStride;
    t.index = index_.data() + slot * format::kMtIndexEntries;
    t.normaliser = normaliser_[slot];
    return t;
  }
  int scale_rate() const { return scale_rate_; }

  // Flat views for the lockstep decoder.
  const std::uint32_t* cum() const { return cum_.data(); }
  const std::uint8_t* index() const { return index_.data(); }  // 4 readable bytes past the last entry
  const std::uint32_t* phase_mask() const { return phase_mask_.data(); }  // per class: the prior's mask, 0 with a shift
  const std::uint32_t* central() const { return central_.data(); }        // per class
  const std::uint32_t* plain() const { return plain_.data(); }            // per class: 1 without a bucket shift

 private:
  format::CmModelTables model_;
  std::vector<format::MtTable> views_;  // per class: shape, half width, shift, prior
  std::vector<std::uint32_t> cum_;
  std::vector<std::uint8_t> index_;
  std::vector<std::uint64_t> normaliser_;
  std::vector<std::uint32_t> phase_mask_, central_, plain_;
  int scale_rate_ = 5;
};

// The tables of a codec's model: built once per model (by content) and kept while in use.
std::shared_ptr<const MtTables> mt_tables_for(const format::CodecParams& codec);

}  // namespace spikey::host::codecs
