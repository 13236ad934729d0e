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
  static constexpr std::uint32_t kPhases = format::kMtMaxPriorPeriod;  // slots per class
  static constexpr std::size_t kStride = format::kMtTableStride;       // cum entries per slot

  explicit MtTables(const format::CodecParams& codec);
  MtTables(const MtTables&) = delete;
  MtTables& operator=(const MtTables&) = delete;

  // The table of class k for a predicted code `base` (the general path).
  format::MtTable table(int k, std::int32_t base) const { return format::mt_table_of(set_, k, base); }
  int scale_rate() const { return set_.scale_rate; }
  // Every table, in this object's memory (copied as they are to a device).
  const format::MtTableSet& set() const { return set_; }

  // Flat views for the lockstep decoder.
  const std::uint32_t* cum() const { return cum_.data(); }
  const std::uint8_t* index() const { return index_.data(); }
  std::uint64_t plain_classes() const { return plain_classes_; }  // bit k: class k has no bucket shift

 private:
  std::vector<std::uint32_t> cum_;
  std::vector<std::uint8_t> index_;
  std::vector<std::uint64_t> normaliser_;
  std::vector<std::uint16_t> shapes_, prior_;
  std::uint64_t plain_classes_ = 0;
  format::MtTableSet set_;
};

// The tables of a codec's model: built once per model (by content) and kept while in use.
std::shared_ptr<const MtTables> mt_tables_for(const format::CodecParams& codec);

}  // namespace spikey::host::codecs
