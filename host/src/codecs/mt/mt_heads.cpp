#include "codecs/mt/mt_heads.hpp"

#include <algorithm>

#include "spikey/format/codecs/mt/mt_stream.hpp"

namespace spikey::host::codecs {

namespace f = spikey::format;

namespace {

// Each class's part of mt_table_of and cm_bucket, so that a residual's head in the table is a
// few integer operations and two loads (cum at its position and the next), with no branch.
struct ClassTerms {
  std::uint32_t first_entry[f::kCmClasses];  // cum entry of the class's phase 0
  std::uint32_t phase_mask[f::kCmClasses];   // the prior's mask, 0 for a class with a shift
  std::uint32_t half_step[f::kCmClasses];    // cm_bucket's rounding: 2^(shift - 1), or 0
  std::uint32_t shift[f::kCmClasses];
  std::uint32_t central[f::kCmClasses];      // positions in the table
};

ClassTerms class_terms(const f::MtTableSet& set) {
  ClassTerms c{};
  for (int k = 0; k < f::kCmClasses; ++k) {
    const auto shift = static_cast<std::uint32_t>(set.shift[k]);
    c.first_entry[k] = static_cast<std::uint32_t>(std::uint64_t{static_cast<std::uint32_t>(k)} * f::kMtMaxPriorPeriod * f::kMtTableStride);
    c.phase_mask[k] = shift != 0 ? 0u : set.prior_mask;
    c.half_step[k] = shift != 0 ? 1u << (shift - 1) : 0u;
    c.shift[k] = shift;
    c.central[k] = set.central[k];
  }
  return c;
}

// A head no residual has (cum < 2^16 and freq <= 2^16 - 16): the residual lies past its table
// (an escape, or a position summed from the weights) and is found by mt_residual_head.
constexpr std::uint32_t kPastTheTable = 0xffffffffu;

// Positions inside the table: u < central implies |j| <= half width (central = min(2H + 1, 127)),
// so the head is cum(u) | freq << 16, or the escape when freq is 0 (mt_bucket_symbol). Returns
// whether some residual lies past its table (its head is then kPastTheTable).
std::uint32_t table_head(const ClassTerms& c, const std::uint32_t* cum, std::int32_t code, std::int32_t z, std::uint32_t k, std::uint32_t& head) {
  const auto residual = static_cast<std::uint32_t>(z);
  const std::uint32_t base = static_cast<std::uint32_t>(code) - residual;
  const std::int32_t j = static_cast<std::int32_t>(residual + c.half_step[k]) >> c.shift[k];  // cm_bucket
  const std::uint32_t u = (static_cast<std::uint32_t>(j) << 1) ^ static_cast<std::uint32_t>(j >> 31);  // zigzag_encode
  if (u >= c.central[k]) {
    head = kPastTheTable;
    return 1;
  }
  const std::uint32_t at = c.first_entry[k] + (base & c.phase_mask[k]) * f::kMtTableStride + u;
  const std::uint32_t low = cum[at], freq = cum[at + 1] - low;
  head = freq == 0 ? 0u : low | freq << 16;
  return 0;
}

std::uint32_t table_heads(const ClassTerms& c, const std::uint32_t* cum, const std::int32_t* codes, const std::int32_t* z,
                          const std::uint8_t* classes, std::uint32_t count, std::uint32_t* heads) {
  std::uint32_t past = 0;
  for (std::uint32_t t = 0; t < count; ++t) past |= table_head(c, cum, codes[t], z[t], classes[t], heads[t]);
  return past;
}

}  // namespace

void mt_find_heads(const MtTables& tables, const std::int32_t* codes, const std::int32_t* z, const std::uint8_t* classes, std::uint32_t first,
                   std::uint32_t end, std::uint32_t* heads) {
  const f::MtTableSet& set = tables.set();
  const ClassTerms terms = class_terms(set);
  constexpr std::uint32_t kBlock = 4096;
  for (std::uint32_t at = first; at < end; at += kBlock) {
    const std::uint32_t count = std::min(kBlock, end - at);
    std::uint32_t* block = heads + (at - first);
    if (table_heads(terms, set.cum, codes + at, z + at, classes + at, count, block) == 0) continue;
    for (std::uint32_t t = at; t < at + count; ++t)
      if (block[t - at] == kPastTheTable) block[t - at] = f::mt_residual_head(set, classes[t], f::mt_base(codes, z, t), z[t]);
  }
}

}  // namespace spikey::host::codecs
