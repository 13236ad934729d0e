// Host side of cm1's model: the shapes built once per archive, per-channel views of them, and
// a cache of normalisers (host only: std::vector).
#pragma once

#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/codecs/cm/cm_model.hpp"

namespace spikey::format {

class CmModelTables {
 public:
  explicit CmModelTables(const CodecParams& codec)
      : shapes_(static_cast<std::size_t>(kCmClasses) * (kCmMaxHalfWidth + 1), 0) {
    for (const std::uint8_t v : codec.cm_prior) prior_.push_back(static_cast<std::uint16_t>(cm_prior_weight(v)));
    for (int k = 0; k < kCmClasses; ++k) {
      std::uint16_t* table = shapes_.data() + static_cast<std::size_t>(k) * (kCmMaxHalfWidth + 1);
      base_.half_width[k] = cm_build_shape(codec.cm_shapes.at(static_cast<std::size_t>(k)), table);
      base_.shift[k] = codec.cm_shapes[static_cast<std::size_t>(k)].shift;
      base_.shape[k] = table;
    }
    base_.scale_rate = static_cast<int>(codec.cm_scale_rate);
    base_.prior = prior_.data();
    base_.prior_mask = static_cast<std::uint32_t>(prior_.size()) - 1;
  }
  CmModelTables(const CmModelTables&) = delete;  // tables point into this object
  CmModelTables& operator=(const CmModelTables&) = delete;

  CmTables for_map(const ValueMap& map) const {
    CmTables t = base_;
    cm_code_range(map, &t.code_low, &t.code_high);
    return t;
  }

 private:
  std::vector<std::uint16_t> shapes_;
  std::vector<std::uint16_t> prior_;
  CmTables base_;
};

// Normalisers of (class, base) for bases whose window lies inside the code range depend only
// on the class and base modulo the prior's period, are below 2^32 there (every prior weight in
// the window is at least 16, the centre's shape value 65535) and are cached; the rest are
// computed.
// Whether class k's window around `base` lies inside the code range (or the class has a bucket
// shift): its distribution then depends only on k and the phase of `base`.
inline bool cm_window_inside(const CmTables& t, int k, std::int32_t base) {
  const std::int64_t h = std::int64_t{t.half_width[k]} << t.shift[k];
  return t.shift[k] != 0 || (std::int64_t{base} - h >= t.code_low && std::int64_t{base} + h <= t.code_high);
}

class CmNormaliserCache {
 public:
  explicit CmNormaliserCache(std::uint32_t prior_period) : period_(prior_period), values_(static_cast<std::size_t>(kCmClasses) * prior_period, 0) {}

  std::uint64_t get(const CmTables& t, int k, std::int32_t base) {
    if (!cm_window_inside(t, k, base)) return cm_normaliser(t, k, base);
    const std::uint32_t phase = t.shift[k] != 0 ? 0u : static_cast<std::uint32_t>(base) & (period_ - 1);
    std::uint32_t& slot = values_[static_cast<std::size_t>(k) * period_ + phase];
    if (slot == 0) slot = static_cast<std::uint32_t>(cm_normaliser(t, k, base));
    return slot;
  }

 private:
  std::uint32_t period_;
  std::vector<std::uint32_t> values_;
};

struct CmCachedNormaliser {
  const CmTables* tables;
  CmNormaliserCache* cache;
  std::uint64_t operator()(int k, std::int32_t base) const { return cache->get(*tables, k, base); }
};

}  // namespace spikey::format
