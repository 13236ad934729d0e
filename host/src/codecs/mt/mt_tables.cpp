#include "codecs/mt/mt_tables.hpp"

#include <limits>


namespace spikey::host::codecs {

namespace f = spikey::format;

MtTables::MtTables(const f::CodecParams& codec)
    : model_(codec),
      views_(f::kCmClasses),
      cum_(std::size_t{f::kCmClasses} * kPhases * kStride, kProbePad),
      index_(std::size_t{f::kCmClasses} * kPhases * f::kMtIndexEntries + 4, 0),
      normaliser_(std::size_t{f::kCmClasses} * kPhases, 0),
      phase_mask_(f::kCmClasses),
      central_(f::kCmClasses),
      plain_(f::kCmClasses) {
  const f::CmTables view = model_.for_map(f::ValueMap{});  // its code range is not used: the mt prior has none
  scale_rate_ = view.scale_rate;
  for (int k = 0; k < f::kCmClasses; ++k) {
    const auto c = static_cast<std::size_t>(k);
    f::MtTable& v = views_[c];
    v.half_width = view.half_width[k];
    v.shift = view.shift[k];
    v.shape = view.shape[k];
    v.prior = v.shift != 0 ? nullptr : view.prior;
    v.prior_mask = view.prior_mask;
    phase_mask_[c] = v.shift != 0 ? 0u : view.prior_mask;
    plain_[c] = v.shift == 0 ? 1u : 0u;
    for (std::uint32_t phase = 0; phase <= phase_mask_[c]; ++phase) {
      f::MtTable t = v;
      t.phase = phase;
      const std::size_t slot = c * kPhases + phase;
      f::mt_build_table(t, cum_.data() + slot * kStride, index_.data() + slot * f::kMtIndexEntries);
      normaliser_[slot] = t.normaliser;
      v.central = t.central;
    }
    central_[c] = v.central;
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
