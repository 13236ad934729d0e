#include "codecs/mt/mt_tables.hpp"

#include <limits>


namespace spikey::host::codecs {

namespace f = spikey::format;

MtTables::MtTables(const f::CodecParams& codec) : model_(codec) {
  view_ = model_.for_map(f::ValueMap{});
  view_.code_low = std::numeric_limits<std::int32_t>::min();  // the mt model's prior has no range
  view_.code_high = std::numeric_limits<std::int32_t>::max();
  prior_mask_ = view_.prior_mask;
  scale_rate_ = view_.scale_rate;
}

const MtTables::Class& MtTables::built(int k) const {
  std::call_once(once_[static_cast<std::size_t>(k)], [&] {
    Class& c = classes_[static_cast<std::size_t>(k)];
    c.view.half_width = view_.half_width[k];
    c.view.shift = view_.shift[k];
    c.view.shape = view_.shape[k];
    c.view.prior = c.view.shift != 0 ? nullptr : view_.prior;
    c.view.prior_mask = prior_mask_;
    c.phases = c.view.shift != 0 ? 1u : prior_mask_ + 1;
    c.cum.resize(std::size_t{c.phases} * kStride);
    c.index.resize(std::size_t{c.phases} * f::kMtIndexEntries);
    c.normaliser.resize(c.phases);
    for (std::uint32_t phase = 0; phase < c.phases; ++phase) {
      f::MtTable t = c.view;
      t.phase = phase;
      f::mt_build_table(t, c.cum.data() + std::size_t{phase} * kStride, c.index.data() + std::size_t{phase} * f::kMtIndexEntries);
      c.normaliser[phase] = t.normaliser;
      c.view.central = t.central;
    }
    ready_[static_cast<std::size_t>(k)].store(&c, std::memory_order_release);
  });
  return classes_[static_cast<std::size_t>(k)];
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
