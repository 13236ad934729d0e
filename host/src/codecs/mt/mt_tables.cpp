#include "codecs/mt/mt_tables.hpp"

#include <algorithm>
#include <limits>


namespace spikey::host::codecs {

namespace f = spikey::format;

MtTables::MtTables(const f::CodecParams& codec)
    : cum_(new std::uint32_t[f::MtTableSet::kCumEntries]),  // not initialized: written table by table (build_missing)
      index_(new std::uint8_t[f::MtTableSet::kIndexEntries]),
      compact_cum_(new std::uint16_t[f::MtTableSet::kSlots * kCompactStride]),  // as cum_
      normaliser_(f::MtTableSet::kSlots, 0),
      shapes_(f::MtTableSet::kShapeEntries, 0) {
  const f::CmModelTables model(codec);
  const f::CmTables view = model.for_map(f::ValueMap{});  // its code range is not used: the mt prior has none
  prior_.assign(view.prior, view.prior + view.prior_mask + 1);
  set_.prior_mask = view.prior_mask;
  set_.scale_rate = view.scale_rate;
  for (int k = 0; k < f::kCmClasses; ++k) {
    const auto c = static_cast<std::size_t>(k);
    std::copy(view.shape[k], view.shape[k] + f::kCmMaxHalfWidth + 1, shapes_.begin() + static_cast<std::ptrdiff_t>(c * (f::kCmMaxHalfWidth + 1)));
    set_.half_width[k] = view.half_width[k];
    set_.shift[k] = view.shift[k];
    if (view.shift[k] == 0) plain_classes_ |= std::uint64_t{1} << k;
  }
  set_.shapes = shapes_.data();
  set_.prior = prior_.data();
  set_.cum = cum_.get();
  set_.index = index_.get();
  set_.normaliser = normaliser_.data();
  for (int k = 0; k < f::kCmClasses; ++k) {
    const std::uint32_t positions = 2u * static_cast<std::uint32_t>(set_.half_width[k]) + 1u;  // mt_build_table's central
    set_.central[k] = positions < f::kMtCentralPositions ? positions : f::kMtCentralPositions;
  }
}

namespace {

// mt_weight_total of class k's table at every phase 0 .. P - 1 (P = prior_mask + 1), as
// products of the window folded onto the period and the prior: the window's weights at
// offsets j with the same j mod P share a prior weight at every phase. The same integer sums
// (test: MtModel.TablesHoldTheContextModelsFrequencies, every class and phase).
std::vector<std::uint64_t> weight_totals_by_phase(const f::MtTableSet& set, int k) {
  const std::uint32_t period = set.prior_mask + 1;
  const std::uint16_t* shape = set.shapes + static_cast<std::size_t>(k) * (f::kCmMaxHalfWidth + 1);
  std::vector<std::uint32_t> folded(period, 0);  // at most 512 shape values: below 2^25
  for (std::int32_t j = -set.half_width[k]; j <= set.half_width[k]; ++j) folded[static_cast<std::uint32_t>(j) & set.prior_mask] += shape[j < 0 ? -j : j];
  std::vector<std::uint32_t> prior(2 * std::size_t{period});  // twice round, so that phase + r never wraps
  for (std::size_t i = 0; i < prior.size(); ++i) prior[i] = set.prior[i & set.prior_mask];
  std::vector<std::uint64_t> totals(period, 0);
  for (std::uint32_t phase = 0; phase < period; ++phase) {
    std::uint64_t total = 0;
    const std::uint32_t* weights = prior.data() + phase;
    for (std::uint32_t r = 0; r < period; ++r) total += std::uint64_t{folded[r]} * weights[r];
    totals[phase] = total;
  }
  return totals;
}

// A table of the set whose cum(0 .. central) and index mt_fill_table has just written: the rest
// of its slot's entries above every slot (the lockstep decoder's probes read them).
void pad_table(const f::MtTable& t, std::uint32_t* cum) {
  std::fill(cum + t.central + 1, cum + f::kMtTableStride, f::kMtProbePadValue);
}

// The 16-bit copy of a padded table (MtTables::compact_cum).
void compact_table(const f::MtTable& t, const std::uint32_t* cum, std::uint16_t* compact) {
  for (std::uint32_t u = 0; u <= t.central; ++u) compact[u] = static_cast<std::uint16_t>(std::min<std::uint32_t>(cum[u], MtTables::kCompactPad));
  std::fill(compact + t.central + 1, compact + MtTables::kCompactStride, MtTables::kCompactPad);
}

}  // namespace

void MtTables::build_missing(std::uint64_t classes) const {
  const std::lock_guard lock(building_);
  const std::uint64_t missing = classes & kAllClasses & ~built_.load(std::memory_order_relaxed);
  for (int k = 0; k < f::kCmClasses; ++k) {
    if (((missing >> k) & 1) == 0) continue;
    const auto c = static_cast<std::size_t>(k);
    if (set_.shift[k] != 0) {  // a class with a bucket shift has one table, without the prior
      f::MtTable t = f::mt_table_of(set_, k, 0);
      std::uint32_t* cum = cum_.get() + c * kPhases * kStride;
      f::mt_build_table(t, cum, index_.get() + c * kPhases * f::kMtIndexEntries);
      pad_table(t, cum);
      compact_table(t, cum, compact_cum_.get() + c * kPhases * kCompactStride);
      normaliser_[c * kPhases] = t.normaliser;
    } else {
      const std::vector<std::uint64_t> totals = weight_totals_by_phase(set_, k);
      for (std::uint32_t phase = 0; phase <= set_.prior_mask; ++phase) {
        f::MtTable t = f::mt_table_of(set_, k, static_cast<std::int32_t>(phase));  // its shape, half width, shift and prior
        const std::size_t slot = c * kPhases + phase;
        std::uint32_t* cum = cum_.get() + slot * kStride;
        f::mt_fill_table(t, totals[phase], cum, index_.get() + slot * f::kMtIndexEntries);
        pad_table(t, cum);
        compact_table(t, cum, compact_cum_.get() + slot * kCompactStride);
        normaliser_[slot] = t.normaliser;
      }
    }
    built_.fetch_or(std::uint64_t{1} << k, std::memory_order_release);  // its tables are visible to whoever sees the bit
  }
}

std::shared_ptr<const MtTables> mt_tables_for(const f::CodecParams& codec) {
  // Keyed by the model's content. The last few models stay built (one per archive being read or
  // written; a chunk's decoder asks again for every chunk).
  constexpr std::size_t kKept = 4;
  std::vector<std::uint8_t> key;
  for (const auto& s : codec.cm_shapes) key.insert(key.end(), {s.gauss, s.laplace, s.weight, s.shift});
  key.insert(key.end(), codec.cm_prior.begin(), codec.cm_prior.end());
  key.push_back(static_cast<std::uint8_t>(codec.cm_scale_rate));
  static std::mutex mutex;
  static std::vector<std::pair<std::vector<std::uint8_t>, std::shared_ptr<const MtTables>>> kept;  // most recent last
  const std::lock_guard lock(mutex);
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (kept[i].first != key) continue;
    auto entry = std::move(kept[i]);
    kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(i));
    kept.push_back(std::move(entry));
    return kept.back().second;
  }
  auto tables = std::make_shared<const MtTables>(codec);
  kept.emplace_back(std::move(key), tables);
  if (kept.size() > kKept) kept.erase(kept.begin());
  return tables;
}

}  // namespace spikey::host::codecs
