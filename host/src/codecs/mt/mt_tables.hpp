// The mt codecs' tables on the host (SPEC.md §6.9.6): every (scale class, prior phase) table of
// an archive's context model, built on first use of its class and shared by every decoder and
// encoder thread that reads the same model.
#pragma once

#include <array>
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
  explicit MtTables(const format::CodecParams& codec);
  MtTables(const MtTables&) = delete;
  MtTables& operator=(const MtTables&) = delete;

  // The table of class k for a predicted code `base`.
  format::MtTable table(int k, std::int32_t base) const {
    const Class* ready = ready_[static_cast<std::size_t>(k)].load(std::memory_order_acquire);
    const Class& c = ready != nullptr ? *ready : built(k);
    format::MtTable t = c.view;
    if (c.phases > 1) t.phase = static_cast<std::uint32_t>(base) & prior_mask_;
    t.cum = c.cum.data() + std::size_t{t.phase} * kStride;
    t.index = c.index.data() + std::size_t{t.phase} * format::kMtIndexEntries;
    t.normaliser = c.normaliser[t.phase];
    return t;
  }
  int scale_rate() const { return scale_rate_; }

 private:
  static constexpr std::size_t kStride = format::kMtCentralPositions + 1;  // cum entries per phase
  struct Class {
    std::uint32_t phases = 1;
    format::MtTable view;  // shape, half width, shift, prior
    std::vector<std::uint32_t> cum;
    std::vector<std::uint8_t> index;
    std::vector<std::uint64_t> normaliser;
  };
  const Class& built(int k) const;

  format::CmModelTables model_;
  format::CmTables view_;
  std::uint32_t prior_mask_ = 0;
  int scale_rate_ = 5;
  mutable std::array<std::once_flag, format::kCmClasses> once_;
  mutable std::array<Class, format::kCmClasses> classes_;
  mutable std::array<std::atomic<const Class*>, format::kCmClasses> ready_{};  // set once a class is built
};

// The tables of a codec's model: built once per model (by content) and kept while in use.
std::shared_ptr<const MtTables> mt_tables_for(const format::CodecParams& codec);

}  // namespace spikey::host::codecs
