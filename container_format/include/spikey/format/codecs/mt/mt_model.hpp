// The table-driven context coder of codecs mt1-mt3 (SPEC.md §6.9.6): the context model of the
// cm codecs (scale classes, shapes, code-density prior; cm_model.hpp) with the prior applied
// everywhere, so that the distribution of a residual depends only on its class k and the phase
// base mod P of its predicted code. Each (k, phase) distribution is a table built once per
// archive, so that coding a symbol is a lookup rather than a walk over the window.
//
// Distribution of (k, phase), over the class's window |j| <= H_k:
//   W(j) = shape_k(|j|) * (shift_k == 0 ? prior_weight(prior[(phase + j) mod P]) : 256)
//   N = floor(2^32 * (2^16 - 16) / sum W),  freq(j) = (W(j) * N) >> 32
//   the escape symbol is [0, 16); then positions u = 0, 1, 2, ... in zigzag order of
//   j = 0, -1, 1, -2, ...: cum(0) = 16, cum(u + 1) = cum(u) + freq(zigzag_decode(u)).
// A class with a bucket shift has one distribution (its weights do not depend on the phase).
//
// Tables hold the positions u < kMtCentralPositions (|j| <= 63), where nearly every residual
// falls; the rarer positions beyond are summed from W when a symbol lies there. The bytes are
// the distribution's either way.
#pragma once

#include "spikey/format/codecs/cm/cm_model.hpp"
#include "spikey/format/hd.hpp"

namespace spikey::format {

inline constexpr std::uint32_t kMtMaxPriorPeriod = 256;  // distributions per class: at most 256
inline constexpr std::uint32_t kMtCentralPositions = 127; // |j| <= 63 in the table (31 left 4% of cinpla's residuals to the walk past it)
inline constexpr int kMtIndexShift = 9;                   // the coarse index: one entry per 512 slots
inline constexpr int kMtIndexEntries = kRansTotal >> kMtIndexShift;

inline constexpr std::uint32_t kMtProbePad = 4;  // cum entries past a table's end: the lockstep decoder's probes u0 + 1 .. u0 + 4 stay in the slot
inline constexpr std::uint32_t kMtTableStride = kMtCentralPositions + 1 + kMtProbePad;  // cum entries per table
inline constexpr std::uint32_t kMtProbePadValue = 0x7fffffff;  // such an entry: above every slot, positive as int32

// One (class, phase) distribution: the class's shape and prior (for positions past the table),
// the normaliser N, and its table: cum(0 .. central) and, for each run of 512 slots, the first
// position whose interval ends past the run's first slot.
struct MtTable {
  const std::uint32_t* cum = nullptr;  // central + 1 entries
  const std::uint8_t* index = nullptr;  // kMtIndexEntries entries
  std::uint32_t central = 0;             // positions in the table: min(2H + 1, kMtCentralPositions)
  std::int32_t half_width = 0;
  std::int32_t shift = 0;
  std::uint64_t normaliser = 0;
  const std::uint16_t* shape = nullptr;  // H + 1 values
  const std::uint16_t* prior = nullptr;  // prior weights, null for a class with a shift
  std::uint32_t prior_mask = 0;
  std::uint32_t phase = 0;

  SPIKEY_HD std::uint32_t positions() const { return 2u * static_cast<std::uint32_t>(half_width) + 1u; }
  SPIKEY_HD std::uint32_t frequency(std::uint32_t u) const {
    const std::int32_t j = zigzag_decode(u);
    const std::uint64_t w = std::uint64_t{shape[j < 0 ? -j : j]} *
                            (prior == nullptr ? kCmNeutralPriorWeight : prior[(phase + static_cast<std::uint32_t>(j)) & prior_mask]);
    return static_cast<std::uint32_t>((w * normaliser) >> 32);
  }
};

// The sum of a (class, phase) distribution's weights W(j) over its window.
SPIKEY_HD std::uint64_t mt_weight_total(const MtTable& table) {
  std::uint64_t total = 0;
  for (std::int32_t j = -table.half_width; j <= table.half_width; ++j) {
    const std::uint32_t s = table.shape[j < 0 ? -j : j];
    total += std::uint64_t{s} * (table.prior == nullptr ? kCmNeutralPriorWeight : table.prior[(table.phase + static_cast<std::uint32_t>(j)) & table.prior_mask]);
  }
  return total;
}

// Fills a (class, phase) table whose weights sum to `total` (mt_weight_total): its normaliser,
// `cum` (central + 1 entries) and `index`. `table` holds the class's shape, half width, shift
// and prior; `central` is set.
SPIKEY_HD void mt_fill_table(MtTable& table, std::uint64_t total, std::uint32_t* cum, std::uint8_t* index) {
  table.normaliser = total == 0 ? 0 : (std::uint64_t{kRansTotal - kCmEscapeFrequency} << 32) / total;
  table.central = table.positions() < kMtCentralPositions ? table.positions() : kMtCentralPositions;
  cum[0] = kCmEscapeFrequency;
  for (std::uint32_t u = 0; u < table.central; ++u) cum[u + 1] = cum[u] + table.frequency(u);
  // index[i]: the positions u < central whose interval ends at or below slot i * 1024 (cum only
  // grows), counted without a data-dependent loop: position u counts from run
  // ceil(cum(u + 1) / 1024) on.
  std::uint32_t from_run[kMtIndexEntries + 1] = {};
  for (std::uint32_t u = 0; u < table.central; ++u) {
    const std::uint32_t run = (cum[u + 1] + (1u << kMtIndexShift) - 1) >> kMtIndexShift;
    ++from_run[run < static_cast<std::uint32_t>(kMtIndexEntries) ? run : static_cast<std::uint32_t>(kMtIndexEntries)];
  }
  std::uint32_t below = 0;
  for (int i = 0; i < kMtIndexEntries; ++i) {
    below += from_run[i];
    index[i] = static_cast<std::uint8_t>(below);
  }
  table.cum = cum;
  table.index = index;
}

// mt_fill_table with the weights summed here.
SPIKEY_HD void mt_build_table(MtTable& table, std::uint32_t* cum, std::uint8_t* index) { mt_fill_table(table, mt_weight_total(table), cum, index); }

// Every (class, phase) table of a model in flat arrays, in host or device memory (built by the
// host, host/src/codecs/mt/mt_tables.cpp, and copied as they are): class k, phase p at slot
// k * kMtMaxPriorPeriod + p; each slot's cum padded to kMtTableStride entries.
struct MtTableSet {
  static constexpr std::uint64_t kSlots = std::uint64_t{kCmClasses} * kMtMaxPriorPeriod;
  static constexpr std::uint64_t kCumEntries = kSlots * kMtTableStride;
  static constexpr std::uint64_t kIndexEntries = kSlots * kMtIndexEntries + 4;  // 4 readable bytes past the last table's
  static constexpr std::uint64_t kShapeEntries = std::uint64_t{kCmClasses} * (kCmMaxHalfWidth + 1);
  SPIKEY_HD std::uint64_t prior_entries() const { return std::uint64_t{prior_mask} + 1; }

  const std::uint32_t* cum = nullptr;         // kMtTableStride per slot
  const std::uint8_t* index = nullptr;        // kMtIndexEntries per slot
  const std::uint64_t* normaliser = nullptr;  // per slot
  const std::uint16_t* shapes = nullptr;      // kCmMaxHalfWidth + 1 per class
  const std::uint16_t* prior = nullptr;       // the prior's weights, prior_mask + 1 of them
  std::uint32_t prior_mask = 0;
  std::int32_t scale_rate = 0;
  std::int32_t half_width[kCmClasses] = {};
  std::int32_t shift[kCmClasses] = {};
  std::uint32_t central[kCmClasses] = {};
};

// The table of class k for a predicted code `base`.
SPIKEY_HD MtTable mt_table_of(const MtTableSet& set, int k, std::int32_t base) {
  MtTable t;
  t.half_width = set.half_width[k];
  t.shift = set.shift[k];
  t.central = set.central[k];
  t.shape = set.shapes + static_cast<std::uint64_t>(k) * (kCmMaxHalfWidth + 1);
  t.prior = t.shift != 0 ? nullptr : set.prior;
  t.prior_mask = set.prior_mask;
  t.phase = t.shift != 0 ? 0u : static_cast<std::uint32_t>(base) & set.prior_mask;
  const std::uint64_t slot = static_cast<std::uint64_t>(k) * kMtMaxPriorPeriod + t.phase;
  t.cum = set.cum + slot * kMtTableStride;
  t.index = set.index + slot * kMtIndexEntries;
  t.normaliser = set.normaliser[slot];
  return t;
}

// cum of position u (u may lie past the table).
SPIKEY_HD std::uint32_t mt_cum(const MtTable& t, std::uint32_t u) {
  if (u <= t.central) return t.cum[u];
  std::uint32_t cum = t.cum[t.central];
  for (std::uint32_t v = t.central; v < u; ++v) cum += t.frequency(v);
  return cum;
}

// The bucket symbol of z (the first of its symbols) when the table codes z's bucket; false when
// z takes the escape.
SPIKEY_HD bool mt_bucket_symbol(const MtTable& t, std::int32_t z, CmSymbol& symbol) {
  const std::int32_t j = cm_bucket(z, t.shift);
  if (j < -t.half_width || j > t.half_width) return false;
  const std::uint32_t u = zigzag_encode(j);
  const std::uint32_t freq = u < t.central ? t.cum[u + 1] - t.cum[u] : t.frequency(u);
  if (freq == 0) return false;
  symbol = {mt_cum(t, u), freq};
  return true;
}

// The symbol of z's low bits under a shift (after its bucket symbol).
SPIKEY_HD CmSymbol mt_low_bits_symbol(std::int32_t z, int shift) { return cm_raw_symbol(cm_low_bits(z, cm_bucket(z, shift), shift), shift); }

// A residual's symbols (at most 4), as cm_residual_symbols: the bucket, its low bits under a
// shift, or the escape and the residual as an integer.
SPIKEY_HD int mt_residual_symbols(const MtTable& t, std::int32_t z, CmSymbol* symbols) {
  if (mt_bucket_symbol(t, z, symbols[0])) {
    if (t.shift == 0) return 1;
    symbols[1] = mt_low_bits_symbol(z, t.shift);
    return 2;
  }
  return cm_escape_symbols(z, symbols);
}

// Decodes one residual; false on a malformed stream.
SPIKEY_HD bool mt_decode_residual(const MtTable& t, RansDecoder& rans, std::int32_t* z) {
  const std::uint32_t slot = rans.slot();
  if (slot < kCmEscapeFrequency) {
    rans.advance(0, kCmEscapeFrequency);
    return cm_decode_integer(rans, z);
  }
  std::uint32_t u, cum, freq;
  if (slot < t.cum[t.central]) {
    u = t.index[slot >> kMtIndexShift];
    while (t.cum[u + 1] <= slot) ++u;
    cum = t.cum[u];
    freq = t.cum[u + 1] - cum;
  } else {  // past the table: sum on
    const std::uint32_t positions = t.positions();
    cum = t.cum[t.central];
    for (u = t.central;; ++u) {
      if (u == positions) return false;  // the slot lies in the unused top of the range
      freq = t.frequency(u);
      if (slot < cum + freq) break;
      cum += freq;
    }
  }
  rans.advance(cum, freq);
  *z = cm_residual(zigzag_decode(u), rans.get_bits(t.shift), t.shift);
  return true;
}

// mt_decode_residual for tables whose cum is padded past the central positions with
// kMtProbePad entries above every slot (MtTableSet's tables): the central search probes a
// fixed run of positions without branching on the data. The same symbols and state as
// mt_decode_residual.
SPIKEY_HD bool mt_decode_residual_probed(const MtTable& t, RansDecoder& rans, std::int32_t* z) {
  const std::uint32_t slot = rans.slot();
  if (slot >= kCmEscapeFrequency && slot < t.cum[t.central]) {
    std::uint32_t u = t.index[slot >> kMtIndexShift];
    const std::uint32_t* c = t.cum + u + 1;
    const std::uint32_t step = static_cast<std::uint32_t>(c[0] <= slot) + static_cast<std::uint32_t>(c[1] <= slot) +
                               static_cast<std::uint32_t>(c[2] <= slot) + static_cast<std::uint32_t>(c[3] <= slot);
    u += step;
    while (t.cum[u + 1] <= slot) ++u;  // past the probes: rare
    rans.advance_branchless(t.cum[u], t.cum[u + 1] - t.cum[u]);
    const std::int32_t j = zigzag_decode(u);
    *z = t.shift == 0 ? j : cm_residual(j, rans.get_bits(t.shift), t.shift);
    return true;
  }
  return mt_decode_residual(t, rans, z);
}

}  // namespace spikey::format
