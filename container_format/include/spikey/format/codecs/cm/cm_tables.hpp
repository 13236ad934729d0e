// Host side of cm1's model: the shapes built once per archive, per-channel views of them, and
// a cache of each distribution's normaliser and interval starts (host only: std::vector).
#pragma once

#include <memory>
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

// Whether class k's window around `base` lies inside the code range (or the class has a bucket
// shift): its distribution then depends only on k and the phase of `base`.
inline bool cm_window_inside(const CmTables& t, int k, std::int32_t base) {
  const std::int64_t h = std::int64_t{t.half_width[k]} << t.shift[k];
  return t.shift[k] != 0 || (std::int64_t{base} - h >= t.code_low && std::int64_t{base} + h <= t.code_high);
}

// The distributions of (class, base) whose window lies inside the code range depend only on the
// class and base modulo the prior's period: each one met is kept (its normaliser, below 2^32
// there since every prior weight in the window is at least 16 and the centre's shape value
// 65535, and its first interval starts); the others are computed each time.
class CmNormaliserCache {
 public:
  // Interval starts kept per (class, phase): positions 0 .. kCumPositions (|j| <= 64).
  static constexpr std::uint32_t kCumPositions = 128;

  // One (class, phase) distribution met: its normaliser and the starts of its first positions,
  // kept as far as a coder has asked for them.
  struct Entry {
    std::uint64_t normaliser = 0;
    std::uint32_t length = 1;  // entries of c written
    std::uint32_t c[kCumPositions + 1] = {kCmEscapeFrequency};  // c[u]: the start of position u
  };

  explicit CmNormaliserCache(std::uint32_t prior_period) : period_(prior_period), entries_(static_cast<std::size_t>(kCmClasses) * prior_period) {}

  // The entry of (k, base), made when first met; null where the window leaves the code range
  // (the distribution then depends on more than the phase).
  Entry* entry(const CmTables& t, int k, std::int32_t base) {
    if (!cm_window_inside(t, k, base)) return nullptr;
    const std::uint32_t phase = t.shift[k] != 0 ? 0u : static_cast<std::uint32_t>(base) & (period_ - 1);
    std::unique_ptr<Entry>& e = entries_[static_cast<std::size_t>(k) * period_ + phase];
    if (!e) {
      e = std::make_unique<Entry>();
      e->normaliser = cm_normaliser(t, k, base);
    }
    return e.get();
  }

 private:
  std::uint32_t period_;
  std::vector<std::unique_ptr<Entry>> entries_;  // per (class, phase)
};

// cm_cum and cm_locate of one (k, base) with normaliser = cm_normaliser(t, k, base), from its
// cache entry where it has one (a coder walks each (class, phase) once instead of at every
// symbol, and decoding searches the starts), else the walks.
struct CmCachedCum {
  const CmTables* tables;
  CmNormaliserCache::Entry* e;
  int k;
  std::int32_t base;
  std::uint64_t normaliser;

  std::uint32_t operator()(std::uint32_t position) const {
    if (e == nullptr) return cm_cum(*tables, k, base, normaliser, position);
    constexpr std::uint32_t kKept = CmNormaliserCache::kCumPositions;
    const std::uint32_t last = position < kKept ? position : kKept;  // position < 2H + 1
    while (e->length <= last) keep_next();
    return position <= kKept ? e->c[position] : cm_cum(*tables, k, base, normaliser, position, kKept, e->c[kKept]);
  }

  bool locate(std::uint32_t slot, std::uint32_t* position, std::uint32_t* start, std::uint32_t* freq) const {
    if (e == nullptr) return cm_locate(*tables, k, base, normaliser, slot, 0, kCmEscapeFrequency, position, start, freq);
    const std::uint32_t positions = 2u * static_cast<std::uint32_t>(tables->half_width[k]) + 1u;
    const std::uint32_t last = positions < CmNormaliserCache::kCumPositions ? positions : CmNormaliserCache::kCumPositions;
    while (e->length <= last && e->c[e->length - 1] <= slot) keep_next();
    const std::uint32_t kept = e->length - 1;  // positions 0 .. kept - 1 have their ends in c[1 .. kept]
    if (e->c[kept] <= slot) return cm_locate(*tables, k, base, normaliser, slot, kept, e->c[kept], position, start, freq);
    std::uint32_t u = 0;  // the first position whose end is above the slot (most residuals are near the centre)
    while (e->c[u + 1] <= slot) ++u;
    *position = u, *start = e->c[u], *freq = e->c[u + 1] - e->c[u];
    return true;
  }

 private:
  // Keeps the next position's start (its predecessor's start plus its frequency).
  void keep_next() const {
    e->c[e->length] = e->c[e->length - 1] + cm_frequency(*tables, k, base, zigzag_decode(e->length - 1), normaliser);
    ++e->length;
  }
};

// CmDirectNormaliser's distributions through a cache: one lookup per symbol.
struct CmCachedNormaliser {
  const CmTables* tables;
  CmNormaliserCache* cache;
  CmCachedCum distribution(int k, std::int32_t base) const {
    CmNormaliserCache::Entry* e = cache->entry(*tables, k, base);
    return {tables, e, k, base, e != nullptr ? e->normaliser : cm_normaliser(*tables, k, base)};
  }
};

}  // namespace spikey::format
