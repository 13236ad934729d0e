// The mt codecs' tables on the host (SPEC.md §6.9.6): every (scale class, prior phase) table of
// an archive's context model, shared by every decoder and encoder thread that reads it. Flat
// arrays, so that the lockstep decoder finds the tables of eight lanes with gathers: class k,
// phase p at slot k * kPhases + p. A class's tables are built when a reader first needs them: a
// recording's residuals visit a few of the 49 classes (8 on the 32-channel cinpla set), and
// building all 12,544 tables took 13% of a 10 ms window's `extract`.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/codecs/cm/cm_tables.hpp"
#include "spikey/format/codecs/mt/mt_model.hpp"

namespace spikey::host::codecs {

class MtTables {
 public:
  static constexpr std::uint32_t kPhases = format::kMtMaxPriorPeriod;  // slots per class
  static constexpr std::size_t kStride = format::kMtTableStride;       // cum entries per slot
  // The lockstep decoder's copy of cum in 16 bits (compact_cum): kStride entries per slot and
  // two more above every slot, so that reading 4 bytes at each of the entries u0, u0 + 2, u0 + 4
  // (u0 <= kMtCentralPositions) stays in the slot; an even count keeps slots 4-byte aligned.
  static constexpr std::size_t kCompactStride = format::kMtTableStride + 2;
  static constexpr std::uint16_t kCompactPad = 0xffff;  // entries past the table, and a cum of 2^16

  explicit MtTables(const format::CodecParams& codec);
  MtTables(const MtTables&) = delete;
  MtTables& operator=(const MtTables&) = delete;

  // The table of class k for a predicted code `base` (the general path).
  format::MtTable table(int k, std::int32_t base) const {
    build_classes(std::uint64_t{1} << k);
    return format::mt_table_of(set_, k, base);
  }
  int scale_rate() const { return set_.scale_rate; }
  std::uint32_t prior_mask() const { return set_.prior_mask; }
  // Every table, in this object's memory (copied as they are to a device): all classes built.
  const format::MtTableSet& set() const {
    build_classes(kAllClasses);
    return set_;
  }

  // Flat views for the lockstep decoder, which builds the classes of its lanes first
  // (build_classes) wherever built_classes() lacks one.
  const std::uint32_t* cum() const { return cum_.get(); }
  const std::uint8_t* index() const { return index_.get(); }
  // cum in 16 bits, slot k * kPhases + p at entry slot * kCompactStride: min(cum, 2^16 - 1), so
  // that only the slot 2^16 - 1 compares differently (no end above it), and kCompactPad past the
  // table. Half the bytes of cum(): more of a recording's tables stay in the core's cache.
  const std::uint16_t* compact_cum() const { return compact_cum_.get(); }
  std::uint64_t plain_classes() const { return plain_classes_; }  // bit k: class k has no bucket shift
  const std::int32_t* shifts() const { return set_.shift; }        // each class's bucket shift
  std::uint64_t built_classes() const { return built_.load(std::memory_order_acquire); }  // bit k: class k's tables are built
  // Builds the tables of every class whose bit is set, unless built (any thread may call it).
  void build_classes(std::uint64_t classes) const {
    if ((classes & ~built_classes()) != 0) build_missing(classes);
  }

 private:
  static constexpr std::uint64_t kAllClasses = (std::uint64_t{1} << format::kCmClasses) - 1;
  void build_missing(std::uint64_t classes) const;

  // Written by build_missing, table by table, before its class's bit is published in built_;
  // not initialized before, so only the pages of built classes are ever touched. No reader
  // reads past its table (the probes stay in the slot's kMtTableStride entries, the index is
  // read in aligned 4-byte words), so none reads memory another thread may be writing.
  std::unique_ptr<std::uint32_t[]> cum_;
  std::unique_ptr<std::uint8_t[]> index_;
  std::unique_ptr<std::uint16_t[]> compact_cum_;
  mutable std::vector<std::uint64_t> normaliser_;
  mutable std::atomic<std::uint64_t> built_{0};
  mutable std::mutex building_;
  std::vector<std::uint16_t> shapes_, prior_;
  std::uint64_t plain_classes_ = 0;
  format::MtTableSet set_;
};

// The tables of a codec's model: built once per model (by content) and kept while in use.
std::shared_ptr<const MtTables> mt_tables_for(const format::CodecParams& codec);

}  // namespace spikey::host::codecs
