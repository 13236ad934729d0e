// Codec cm1's probability model (SPEC.md §6.9): the distribution of a sample's code given its
// prediction, in integers only so that every encoder and decoder computes the same numbers.
//
// For a residual z = code - base (base = the predicted code) the model picks a scale class k
// from a running mean of recent |z|, and then
//   P(z) ∝ shape_k(|j|) * prior(base + z)     over the class's window |j| <= H_k,
// where j is z in buckets of 2^shift_k codes (shift 0 for nearly all classes on real data) and
// prior is the archive's code-density pattern: per code, how much likelier it is than its
// neighbours (an ADC's differential non-linearity; neutral for classes with a shift). The
// shapes are a Gaussian/Laplace mixture built from four bytes per class. Residuals outside the
// window, or with a zero frequency, take an escape symbol and are coded with raw bits.
#pragma once

#include "spikey/format/hd.hpp"
#include "spikey/format/codecs/cm/rans.hpp"
#include "spikey/format/value_map.hpp"
#include "spikey/format/codecs/common/zigzag.hpp"

namespace spikey::format {

inline constexpr int kCmClasses = 49;                    // cm_class_of's range
inline constexpr int kCmMinScaleRate = 3;                // the running mean's weight is 2^-rate
inline constexpr int kCmMaxScaleRate = 8;
inline constexpr std::int32_t kCmScaleStart = 4 << 4;    // mean |z| of 4 at a stream's start
inline constexpr std::uint32_t kCmMagnitudeClamp = 4095;
inline constexpr int kCmMaxHalfWidth = 255;              // H_k <= 255 buckets
inline constexpr int kCmMaxShift = 12;
inline constexpr std::uint32_t kCmEscapeFrequency = 16;  // of kRansTotal: an escape costs 12 bits
inline constexpr std::uint8_t kCmNeutralPrior = 128;     // the stored prior value of weight 1
inline constexpr std::uint32_t kCmMaxPriorPeriod = 1024;
inline constexpr int kCmEscapeLengthBits = 6;            // bit length of the escaped zigzag value

// One class's shape, as stored (four bytes): Gaussian exponent index g, Laplace exponent index l,
// Laplace weight w (of 256) and bucket shift.
struct CmShape {
  std::uint8_t gauss = 64;
  std::uint8_t laplace = 64;
  std::uint8_t weight = 0;
  std::uint8_t shift = 0;
};

// Classes below the first stored one and above the last take the shape of their stored
// neighbour widened or narrowed by a quarter octave per class (4 steps of g and l); above, a
// Gaussian index past kCmWidenLimit doubles the buckets instead.
inline constexpr int kCmWidenLimit = 150;

SPIKEY_HD CmShape cm_narrower_shape(CmShape s) {
  s.gauss = static_cast<std::uint8_t>(s.gauss < 4 ? 0 : s.gauss - 4);
  s.laplace = static_cast<std::uint8_t>(s.laplace < 4 ? 0 : s.laplace - 4);
  return s;
}

SPIKEY_HD CmShape cm_wider_shape(CmShape s) {
  int g = s.gauss + 4, l = s.laplace + 4;
  if (g > kCmWidenLimit && s.shift < kCmMaxShift) g -= 16, l -= 16, ++s.shift;
  s.gauss = static_cast<std::uint8_t>(g < 0 ? 0 : (g > 255 ? 255 : g));
  s.laplace = static_cast<std::uint8_t>(l < 0 ? 0 : (l > 255 ? 255 : l));
  return s;
}

// Scale class of a running mean of |z| held in units of 1/16: about four classes per octave of
// (mean + 1).
SPIKEY_HD int cm_class_of(std::int32_t scale) {
  const auto v = static_cast<std::uint32_t>(scale) + 16u;  // scale is in [0, 16 * 4095]
  const int width = bit_width32(v);                         // >= 5
  return 4 * (width - 5) + static_cast<int>((v >> (width - 3)) & 3u);
}

SPIKEY_HD std::int32_t cm_next_scale(std::int32_t scale, std::int32_t z, int rate) {
  const std::uint32_t magnitude = z < 0 ? 0u - static_cast<std::uint32_t>(z) : static_cast<std::uint32_t>(z);
  const auto m = static_cast<std::int32_t>((magnitude < kCmMagnitudeClamp ? magnitude : kCmMagnitudeClamp) << 4);
  return scale + ((m - scale) >> rate);  // arithmetic shift
}

// 2^f for f in [0, 1] given in Q30, result in Q30: exp(f ln 2) by its Taylor series in
// integers (error below 2^-26 relative: truncations), so every platform builds the same tables.
SPIKEY_HD std::uint64_t cm_exp2_fraction_q30(std::uint64_t f) {
  constexpr std::uint64_t kLn2Q30 = 744261118;  // round(ln 2 * 2^30)
  const std::uint64_t y = (f * kLn2Q30) >> 30;
  std::uint64_t sum = std::uint64_t{1} << 30, term = std::uint64_t{1} << 30;
  for (std::uint64_t k = 1; k <= 14; ++k) {
    term = ((term * y) >> 30) / k;
    sum += term;
  }
  return sum;
}

// 2^(m/d) in Q30 for integer m (|m| < 32 * d) and 1 <= d <= 64.
SPIKEY_HD std::uint64_t cm_exp2_ratio_q30(int m, int d) {
  int whole = m / d, rest = m % d;
  if (rest < 0) rest += d, --whole;
  const std::uint64_t base = cm_exp2_fraction_q30((static_cast<std::uint64_t>(rest) << 30) / static_cast<std::uint64_t>(d));
  return whole >= 0 ? base << whole : base >> -whole;
}

// 2^-a for a >= 0 in Q30, result in Q32 (at most 2^32 - 1).
SPIKEY_HD std::uint32_t cm_exp2_negative_q32(std::uint64_t a) {
  const std::uint64_t whole = a >> 30, fraction = a & ((std::uint64_t{1} << 30) - 1);
  if (whole >= 32) return 0;
  // 2^-f = 2^(1-f) / 2
  const std::uint64_t q31 = fraction == 0 ? (std::uint64_t{1} << 31) : cm_exp2_fraction_q30((std::uint64_t{1} << 30) - fraction);
  const std::uint64_t q32 = (q31 << 1) >> whole;
  return q32 > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(q32);
}

// Per-bucket ratios of the two components: Gaussian rho = 2^-(2^((56 - g) / 8)),
// Laplace lambda = 2^-(2^((64 - l) / 16)).
SPIKEY_HD std::uint32_t cm_gauss_ratio(std::uint8_t g) { return cm_exp2_negative_q32(cm_exp2_ratio_q30(56 - int{g}, 8)); }
SPIKEY_HD std::uint32_t cm_laplace_ratio(std::uint8_t l) { return cm_exp2_negative_q32(cm_exp2_ratio_q30(64 - int{l}, 16)); }

// A shape's values s(0..H) (s(0) = 65535, non-increasing, all > 0), H the last j before s(j) = 0:
//   G(0) = L(0) = 2^31, G(j+1) = G(j) * rho^(2j+1), L(j+1) = L(j) * lambda  (Q32 products, floored)
//   s(j) = min(65535, (G(j) * (256 - w) + L(j) * w) >> 23)
// The components' terms G(0..kCmMaxHalfWidth) and L(0..kCmMaxHalfWidth) each depend on one
// parameter (the trainer, which tries thousands of shapes, keeps them).
SPIKEY_HD void cm_gauss_terms(std::uint8_t gauss, std::uint64_t* terms) {
  const std::uint64_t rho = cm_gauss_ratio(gauss);
  const std::uint64_t rho2 = (rho * rho) >> 32;
  std::uint64_t g = std::uint64_t{1} << 31, step = rho;
  for (int j = 0; j <= kCmMaxHalfWidth; ++j) {
    terms[j] = g;
    g = (g * step) >> 32;
    step = (step * rho2) >> 32;
  }
}

SPIKEY_HD void cm_laplace_terms(std::uint8_t laplace, std::uint64_t* terms) {
  const std::uint64_t lambda = cm_laplace_ratio(laplace);
  std::uint64_t l = std::uint64_t{1} << 31;
  for (int j = 0; j <= kCmMaxHalfWidth; ++j) {
    terms[j] = l;
    l = (l * lambda) >> 32;
  }
}

// s(0..H) from the components' terms and the weight w; returns H.
SPIKEY_HD int cm_mix_shape(const std::uint64_t* g, const std::uint64_t* l, std::uint8_t weight, std::uint16_t* table) {
  const std::uint64_t w = weight;
  int half_width = 0;
  for (int j = 0; j <= kCmMaxHalfWidth; ++j) {
    const std::uint64_t s = (g[j] * (256 - w) + l[j] * w) >> 23;
    if (s == 0) break;
    table[j] = static_cast<std::uint16_t>(s > 65535 ? 65535 : s);
    half_width = j;
  }
  return half_width;
}

// Builds the shape's values into `table` (kCmMaxHalfWidth + 1 entries) and returns H.
SPIKEY_HD int cm_build_shape(const CmShape& shape, std::uint16_t* table) {
  std::uint64_t g[kCmMaxHalfWidth + 1], l[kCmMaxHalfWidth + 1];
  cm_gauss_terms(shape.gauss, g);
  cm_laplace_terms(shape.laplace, l);
  return cm_mix_shape(g, l, shape.weight, table);
}

// Weight of a stored prior value v: floor(16 * 2^(v/32)), 16..4020 (v = 128: 256, the neutral
// weight that classes with a bucket shift use everywhere).
SPIKEY_HD std::uint32_t cm_prior_weight(std::uint8_t v) { return static_cast<std::uint32_t>((cm_exp2_ratio_q30(v, 32) * 16) >> 30); }
inline constexpr std::uint32_t kCmNeutralPriorWeight = 256;

// Code range of a value map: codes outside it have prior 0.
SPIKEY_HD void cm_code_range(const ValueMap& map, std::int32_t* low, std::int32_t* high) {
  switch (map.kind) {
    case ValueMapKind::n1_10bit: *low = 0, *high = 1023; return;
    case ValueMapKind::affine: *low = (-32768 - map.offset) / map.step, *high = (32767 - map.offset) / map.step; return;
    case ValueMapKind::identity:
    default: *low = -32768, *high = 32767; return;
  }
}

// What one channel's coder needs: built shapes, the prior pattern and the code range.
struct CmTables {
  const std::uint16_t* shape[kCmClasses] = {};  // each kCmMaxHalfWidth + 1 entries
  std::int32_t half_width[kCmClasses] = {};
  std::int32_t shift[kCmClasses] = {};
  const std::uint16_t* prior = nullptr;  // prior weights, period prior_mask + 1 (a power of two)
  std::uint32_t prior_mask = 0;
  std::int32_t code_low = 0, code_high = 0;
  int scale_rate = 5;
};

SPIKEY_HD std::uint32_t cm_prior(const CmTables& t, std::int32_t code) {
  return code < t.code_low || code > t.code_high ? 0u : t.prior[static_cast<std::uint32_t>(code) & t.prior_mask];
}

// Unnormalised weight of bucket j (|j| <= H_k) around `base` in class k.
SPIKEY_HD std::uint64_t cm_weight(const CmTables& t, int k, std::int32_t base, std::int32_t j) {
  const std::uint32_t s = t.shape[k][j < 0 ? -j : j];
  if (t.shift[k] != 0) return std::uint64_t{s} * kCmNeutralPriorWeight;
  return std::uint64_t{s} * cm_prior(t, static_cast<std::int32_t>(static_cast<std::uint32_t>(base) + static_cast<std::uint32_t>(j)));
}

// The normaliser of (k, base): floor(2^32 * (2^16 - escape) / sum of weights), 0 when every
// weight is 0. A bucket's frequency is then (weight * normaliser) >> 32; the frequencies sum
// to at most 2^16 - escape.
SPIKEY_HD std::uint64_t cm_normaliser(const CmTables& t, int k, std::int32_t base) {
  std::uint64_t total = 0;
  for (std::int32_t j = -t.half_width[k]; j <= t.half_width[k]; ++j) total += cm_weight(t, k, base, j);
  return total == 0 ? 0 : (std::uint64_t{kRansTotal - kCmEscapeFrequency} << 32) / total;
}

SPIKEY_HD std::uint32_t cm_frequency(const CmTables& t, int k, std::int32_t base, std::int32_t j, std::uint64_t normaliser) {
  return static_cast<std::uint32_t>((cm_weight(t, k, base, j) * normaliser) >> 32);
}

// Bucket of residual z under shift s (rounded to nearest, halves up) and its low bits.
SPIKEY_HD std::int32_t cm_bucket(std::int32_t z, int shift) {
  return shift == 0 ? z : static_cast<std::int32_t>(static_cast<std::uint32_t>(z) + (1u << (shift - 1))) >> shift;
}
SPIKEY_HD std::uint32_t cm_low_bits(std::int32_t z, std::int32_t bucket, int shift) {
  return shift == 0 ? 0u : static_cast<std::uint32_t>(z) + (1u << (shift - 1)) - (static_cast<std::uint32_t>(bucket) << shift);
}
SPIKEY_HD std::int32_t cm_residual(std::int32_t bucket, std::uint32_t low, int shift) {
  return shift == 0 ? bucket : static_cast<std::int32_t>((static_cast<std::uint32_t>(bucket) << shift) + low - (1u << (shift - 1)));
}

// Symbols as the encoder lists them, in decoding order: (cum, freq) intervals; raw bits are
// uniform symbols.
struct CmSymbol {
  std::uint32_t cum;
  std::uint32_t freq;
};

SPIKEY_HD CmSymbol cm_raw_symbol(std::uint32_t value, int bits) {
  return {value << (kRansProbabilityBits - bits), 1u << (kRansProbabilityBits - bits)};
}

// An integer in raw bits: its zigzag value's bit length (kCmEscapeLengthBits), then the bits
// below the leading one, high part first (at most 16 bits per symbol). Up to 3 symbols.
SPIKEY_HD int cm_integer_symbols(std::int32_t value, CmSymbol* symbols) {
  const std::uint32_t v = zigzag_encode(value);
  const int length = bit_width32(v);
  symbols[0] = cm_raw_symbol(static_cast<std::uint32_t>(length), kCmEscapeLengthBits);
  const int rest = length > 1 ? length - 1 : 0;
  if (rest > 16) {
    symbols[1] = cm_raw_symbol((v >> 16) & ((1u << (rest - 16)) - 1), rest - 16);
    symbols[2] = cm_raw_symbol(v & 0xffffu, 16);
    return 3;
  }
  if (rest == 0) return 1;
  symbols[1] = cm_raw_symbol(v & ((1u << rest) - 1), rest);
  return 2;
}

// An escaped residual's symbols (at most 4): the escape, then z as an integer.
SPIKEY_HD int cm_escape_symbols(std::int32_t z, CmSymbol* symbols) {
  symbols[0] = {0, kCmEscapeFrequency};
  return 1 + cm_integer_symbols(z, symbols + 1);
}

SPIKEY_HD bool cm_decode_integer(RansDecoder& rans, std::int32_t* value) {
  const int length = static_cast<int>(rans.get_bits(kCmEscapeLengthBits));
  if (length > 32) return false;
  std::uint32_t v = 0;
  if (length >= 1) {
    const int rest = length - 1;
    const std::uint32_t low = rest > 16 ? (rans.get_bits(rest - 16) << 16) | rans.get_bits(16) : rans.get_bits(rest);
    v = (1u << rest) | low;
  }
  *value = zigzag_decode(v);
  return true;
}

// The interval start of position u (buckets in zigzag order j = 0, -1, 1, ...) of (k, base):
// the escape's frequency and every position's before it, summed on from position `from`
// whose start is `cum`.
SPIKEY_HD std::uint32_t cm_cum(const CmTables& t, int k, std::int32_t base, std::uint64_t normaliser, std::uint32_t position,
                               std::uint32_t from = 0, std::uint32_t cum = kCmEscapeFrequency) {
  for (std::uint32_t u = from; u < position; ++u) cum += cm_frequency(t, k, base, zigzag_decode(u), normaliser);
  return cum;
}

// The position whose interval holds `slot` (at least the escape's frequency), with its start
// and frequency, walking on from position `from` whose start is `cum`: the first position whose
// interval ends above the slot. False when the slot lies in the unused top of the range.
SPIKEY_HD bool cm_locate(const CmTables& t, int k, std::int32_t base, std::uint64_t normaliser, std::uint32_t slot, std::uint32_t from,
                         std::uint32_t cum, std::uint32_t* position, std::uint32_t* start, std::uint32_t* freq) {
  const std::uint32_t positions = 2u * static_cast<std::uint32_t>(t.half_width[k]) + 1u;
  for (std::uint32_t u = from; u < positions; ++u) {
    const std::uint32_t f = cm_frequency(t, k, base, zigzag_decode(u), normaliser);
    if (slot < cum + f) {
      *position = u, *start = cum, *freq = f;
      return true;
    }
    cum += f;
  }
  return false;
}

// cm_cum and cm_locate of one (k, base): the walks (a host cache may answer instead,
// cm_tables.hpp).
struct CmWalkedCum {
  const CmTables* t;
  int k;
  std::int32_t base;
  std::uint64_t normaliser;
  SPIKEY_HD std::uint32_t operator()(std::uint32_t position) const { return cm_cum(*t, k, base, normaliser, position); }
  SPIKEY_HD bool locate(std::uint32_t slot, std::uint32_t* position, std::uint32_t* start, std::uint32_t* freq) const {
    return cm_locate(*t, k, base, normaliser, slot, 0, kCmEscapeFrequency, position, start, freq);
  }
};

// One residual's symbols (at most 4), appended at `symbols`; returns their count. `normaliser`
// is cm_normaliser(t, k, base), cum_of(u) cm_cum of position u. Residuals outside the window or
// of zero frequency escape.
template <class CumOf>
SPIKEY_HD int cm_residual_symbols(const CmTables& t, int k, std::int32_t base, std::uint64_t normaliser, std::int32_t z, CmSymbol* symbols,
                                  const CumOf& cum_of) {
  const int shift = t.shift[k];
  const std::int32_t j = cm_bucket(z, shift);
  const std::int32_t h = t.half_width[k];
  if (j >= -h && j <= h) {
    const std::uint32_t freq = cm_frequency(t, k, base, j, normaliser);
    if (freq != 0) {
      symbols[0] = {cum_of(zigzag_encode(j)), freq};
      if (shift == 0) return 1;
      symbols[1] = cm_raw_symbol(cm_low_bits(z, j, shift), shift);
      return 2;
    }
  }
  return cm_escape_symbols(z, symbols);
}

SPIKEY_HD int cm_residual_symbols(const CmTables& t, int k, std::int32_t base, std::uint64_t normaliser, std::int32_t z, CmSymbol* symbols) {
  return cm_residual_symbols(t, k, base, normaliser, z, symbols, CmWalkedCum{&t, k, base, normaliser});
}

// Decodes one residual; false on a malformed stream. cum_of.locate finds the slot's position
// (CmWalkedCum: the walk).
template <class CumOf>
SPIKEY_HD bool cm_decode_residual(const CmTables& t, int k, RansDecoder& rans, std::int32_t* z, const CumOf& cum_of) {
  const std::uint32_t slot = rans.slot();
  const int shift = t.shift[k];
  if (slot >= kCmEscapeFrequency) {
    std::uint32_t position = 0, start = 0, freq = 0;
    if (!cum_of.locate(slot, &position, &start, &freq)) return false;  // the slot lies in the unused top of the range
    rans.advance(start, freq);
    *z = cm_residual(zigzag_decode(position), rans.get_bits(shift), shift);
    return true;
  }
  rans.advance(0, kCmEscapeFrequency);
  return cm_decode_integer(rans, z);
}

SPIKEY_HD bool cm_decode_residual(const CmTables& t, int k, std::int32_t base, std::uint64_t normaliser, RansDecoder& rans, std::int32_t* z) {
  return cm_decode_residual(t, k, rans, z, CmWalkedCum{&t, k, base, normaliser});
}

}  // namespace spikey::format
