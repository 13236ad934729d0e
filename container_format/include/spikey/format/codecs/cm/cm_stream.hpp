// Codec cm1 streams (SPEC.md §6.9): mo1's prediction, residuals coded with the context model of
// cm_model.hpp by rANS (rans.hpp).
//
// Stream of one channel in one chunk of n samples: the rANS state (u32), then the rANS bytes.
// Symbols in decoding order: the adapt flag (1 raw bit), the first code u[0] as an integer
// (cm_integer_symbols), then for t = 1..n-1 the residual
// z = u[t] - base, base = u[t-1] + p (p is mo1's prediction of the difference), with
//   k = cm_class_of(scale), scale starting at kCmScaleStart and moving by cm_next_scale at the
//   archive's rate.
#pragma once

#include "spikey/format/codecs/cm/cm_model.hpp"
#include "spikey/format/codecs/mo/mo_predictor.hpp"

namespace spikey::format {

inline constexpr std::uint32_t kCmStreamHeaderBytes = 4;

// Bounds for buffers: symbols of one stream, and its size in bytes (a symbol emits at most
// two bytes).
SPIKEY_HD std::uint64_t max_cm_symbols(std::uint32_t n) { return 4 + 4 * std::uint64_t{n > 0 ? n - 1 : 0}; }
SPIKEY_HD std::uint64_t max_cm_stream_bytes(std::uint32_t n) { return kCmStreamHeaderBytes + 2 * max_cm_symbols(n); }

// The distribution of (k, base) every coder needs (its normaliser, interval starts and slot
// search), computed directly (the CUDA encoder); the host caches it (CmCachedNormaliser).
struct CmDirectNormaliser {
  const CmTables* tables;
  SPIKEY_HD CmWalkedCum distribution(int k, std::int32_t base) const { return {tables, k, base, cm_normaliser(*tables, k, base)}; }
};

SPIKEY_HD void cm_put_u32(std::uint8_t* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
SPIKEY_HD std::uint32_t cm_get_u32(const std::uint8_t* in) {
  return in[0] | (std::uint32_t{in[1]} << 8) | (std::uint32_t{in[2]} << 16) | (std::uint32_t{in[3]} << 24);
}

// Encoder: residuals[t] (t = 1..n-1) are mo_residuals' output. `symbols` holds
// max_cm_symbols(n) entries, `scratch` and `out` max_cm_stream_bytes(n) bytes each. Returns the
// stream's size in bytes.
template <class Normaliser>
SPIKEY_HD std::uint64_t encode_cm_stream(const CmTables& tables, const Normaliser& normaliser, const std::int32_t* codes,
                                         const std::int32_t* residuals, std::uint32_t n, bool adapt, CmSymbol* symbols,
                                         std::uint8_t* scratch, std::uint8_t* out) {
  std::uint64_t count = 0;
  symbols[count++] = cm_raw_symbol(adapt ? 1u : 0u, 1);
  count += static_cast<std::uint64_t>(cm_integer_symbols(codes[0], symbols + count));
  std::int32_t scale = kCmScaleStart;
  for (std::uint32_t t = 1; t < n; ++t) {
    const std::int32_t z = residuals[t];
    const auto base = static_cast<std::int32_t>(static_cast<std::uint32_t>(codes[t]) - static_cast<std::uint32_t>(z));
    const int k = cm_class_of(scale);
    const auto d = normaliser.distribution(k, base);
    count += static_cast<std::uint64_t>(cm_residual_symbols(tables, k, base, d.normaliser, z, symbols + count, d));
    scale = cm_next_scale(scale, z, tables.scale_rate);
  }
  std::uint8_t* const end = scratch + max_cm_stream_bytes(n);
  RansEncoder rans{kRansLow, end};
  for (std::uint64_t i = count; i-- > 0;) rans.put(symbols[i].cum, symbols[i].freq);
  cm_put_u32(out, rans.state);
  std::uint8_t* p = out + kCmStreamHeaderBytes;
  for (const std::uint8_t* b = rans.cursor; b != end; ++b) *p++ = *b;
  return static_cast<std::uint64_t>(p - out);
}

// A stream's header: its initial state, the adapt flag and the first code; false when malformed.
SPIKEY_HD bool cm_start_stream(const std::uint8_t* data, std::uint64_t size, RansDecoder& rans, bool* adapt, std::int32_t* first_code) {
  if (size < kCmStreamHeaderBytes) return false;
  rans.state = cm_get_u32(data);
  if (rans.state < kRansLow) return false;
  rans.bytes = data + kCmStreamHeaderBytes;
  rans.count = size - kCmStreamHeaderBytes;
  rans.next = 0;
  rans.overran = false;
  *adapt = rans.get_bits(1) != 0;
  return cm_decode_integer(rans, first_code) && !rans.overran;
}

// Decoder (prediction and entropy decoding in one pass). `model.lms_step` is the stored step;
// the stream's adapt flag decides whether it applies. Buffers as for mo_reconstruct. Returns
// false on a malformed stream.
template <class Normaliser>
SPIKEY_HD bool decode_cm_stream(const CmTables& tables, const Normaliser& normaliser, MoModel model, const std::uint8_t* data,
                                std::uint64_t size, std::uint32_t n, std::int32_t* weights, std::int32_t* history,
                                std::int32_t* wavelet, std::int32_t* features, const std::int32_t* const* sources, std::int32_t* codes) {
  if (n == 0) return false;
  RansDecoder rans;
  bool adapt = false;
  if (!cm_start_stream(data, size, rans, &adapt, &codes[0])) return false;
  if (!adapt) model.lms_step = 0;
  mo_clear(model, n, history, wavelet, features);
  std::int32_t x[kMaxMoTaps];
  std::int32_t scale = kCmScaleStart;
  for (std::uint32_t t = 1; t < n; ++t) {
    const std::int32_t p = lpc_prediction(mo_accumulate(model, t, weights, history, features, sources, x), model.weight_shift);
    const auto base = static_cast<std::int32_t>(static_cast<std::uint32_t>(codes[t - 1]) + static_cast<std::uint32_t>(p));
    const int k = cm_class_of(scale);
    std::int32_t z = 0;
    const auto distribution = normaliser.distribution(k, base);
    if (!cm_decode_residual(tables, k, rans, &z, distribution) || rans.overran) return false;
    codes[t] = static_cast<std::int32_t>(static_cast<std::uint32_t>(base) + static_cast<std::uint32_t>(z));
    const auto d = static_cast<std::int32_t>(static_cast<std::uint32_t>(p) + static_cast<std::uint32_t>(z));
    mo_lms_update(model, weights, x, z);
    mo_advance(model, n, t, d, history, wavelet, features);
    scale = cm_next_scale(scale, z, tables.scale_rate);
  }
  return rans.finished_cleanly();
}

}  // namespace spikey::format
