// The codec table (SPEC.md §6.1): every codec an archive can name is one point of the grid
//   prediction {first difference, lpc, MiddleOut} x network {none, ReLU, GRU}
//   x residual coder {Rice, Golomb, context-modelled rANS, the same from precomputed tables},
// with the format version that introduced it and the size of its stream words. Every decision
// that depends on the codec reads this table; no other code compares codec names.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace spikey::format {

// How a channel's next code is predicted before its residual is coded.
enum class PredictorKind : std::uint8_t {
  first_difference,  // the previous code (rice1)
  lpc,               // own history and at most one source channel (§6.6)
  middle_out,        // history, wavelet features and up to four sources in decoding order (§6.7)
};

// The network stage's projector (§6.8), added to the MiddleOut prediction of some channels.
enum class NetworkKind : std::uint8_t { none, relu, gru };

// How the residuals are coded.
enum class ResidualCoder : std::uint8_t {
  rice,          // Rice codes in partitions (§6.4)
  golomb,        // half-octave Golomb codes in partitions (§6.5)
  context_rans,  // rANS under the scale context and the code-density prior (§6.9)
  table_rans,    // the same model from tables precomputed per (scale class, code phase) (§6.9.6)
};

// The host implementation a codec belongs to: codecs of one family share their code and differ
// only in the table's columns.
enum class CodecFamily : std::uint8_t {
  rice1,   // frozen (format version 1): decoded, written only by tests
  lpc,     // lpc1
  mo,      // mo1, mo2, mo3
  cm,      // cm1, cm2, cm3
  mt,      // mt1, mt2, mt3
};

struct CodecRow {
  std::string_view name;
  std::uint16_t first_version;  // the format version that introduced it
  PredictorKind predictor;
  NetworkKind network;
  ResidualCoder coder;
  std::uint8_t stream_word_bytes;  // streams (and sync runs, §6.10) are whole words of this size
  CodecFamily family;

  constexpr bool has_predictors() const { return predictor != PredictorKind::first_difference; }
  constexpr bool has_network() const { return network != NetworkKind::none; }
  // The scale classes, shapes and code-density prior of §6.9 (stored in the codec object).
  constexpr bool has_context_model() const { return coder == ResidualCoder::context_rans || coder == ResidualCoder::table_rans; }
  // codec.partition_size when the encoder is not told one: residuals per Rice or Golomb
  // partition, per rANS segment for the table coder (unused by the context coder).
  constexpr std::uint32_t default_partition_size() const { return coder == ResidualCoder::table_rans ? 16384u : 256u; }
};

inline constexpr CodecRow kCodecTable[] = {
    {"rice1", 1, PredictorKind::first_difference, NetworkKind::none, ResidualCoder::rice, 4, CodecFamily::rice1},
    {"lpc1", 2, PredictorKind::lpc, NetworkKind::none, ResidualCoder::golomb, 4, CodecFamily::lpc},
    {"mo1", 3, PredictorKind::middle_out, NetworkKind::none, ResidualCoder::golomb, 4, CodecFamily::mo},
    {"cm1", 4, PredictorKind::middle_out, NetworkKind::none, ResidualCoder::context_rans, 1, CodecFamily::cm},
    {"mo2", 7, PredictorKind::middle_out, NetworkKind::relu, ResidualCoder::golomb, 4, CodecFamily::mo},
    {"cm2", 7, PredictorKind::middle_out, NetworkKind::relu, ResidualCoder::context_rans, 1, CodecFamily::cm},
    {"mo3", 8, PredictorKind::middle_out, NetworkKind::gru, ResidualCoder::golomb, 4, CodecFamily::mo},
    {"cm3", 8, PredictorKind::middle_out, NetworkKind::gru, ResidualCoder::context_rans, 1, CodecFamily::cm},
    {"mt1", 9, PredictorKind::middle_out, NetworkKind::none, ResidualCoder::table_rans, 1, CodecFamily::mt},
    {"mt2", 9, PredictorKind::middle_out, NetworkKind::relu, ResidualCoder::table_rans, 1, CodecFamily::mt},
    {"mt3", 9, PredictorKind::middle_out, NetworkKind::gru, ResidualCoder::table_rans, 1, CodecFamily::mt},
};

// The names, for code that chooses a codec (tests, benchmarks); decisions read the rows.
inline constexpr const char* kCodecRice1 = "rice1";
inline constexpr const char* kCodecLpc1 = "lpc1";
inline constexpr const char* kCodecMo1 = "mo1";
inline constexpr const char* kCodecCm1 = "cm1";
inline constexpr const char* kCodecMo2 = "mo2";
inline constexpr const char* kCodecCm2 = "cm2";
inline constexpr const char* kCodecMo3 = "mo3";
inline constexpr const char* kCodecCm3 = "cm3";
inline constexpr const char* kCodecMt1 = "mt1";
inline constexpr const char* kCodecMt2 = "mt2";
inline constexpr const char* kCodecMt3 = "mt3";

// The row of a codec name, or nullptr when this version does not know it.
constexpr const CodecRow* find_codec(std::string_view name) {
  for (const CodecRow& row : kCodecTable)
    if (row.name == name) return &row;
  return nullptr;
}

// The row of a codec name; throws std::invalid_argument naming it when unknown.
inline const CodecRow& codec_row(std::string_view name) {
  if (const CodecRow* row = find_codec(name)) return *row;
  throw std::invalid_argument("unknown codec \"" + std::string(name) + "\"");
}

// The codec at a point of the grid; throws std::invalid_argument when no codec is there.
inline const CodecRow& codec_at(PredictorKind predictor, NetworkKind network, ResidualCoder coder) {
  for (const CodecRow& row : kCodecTable)
    if (row.predictor == predictor && row.network == network && row.coder == coder) return row;
  throw std::invalid_argument("no codec combines that predictor, network and residual coder");
}

// The codec of `row`'s predictor and coder with another network stage.
inline const CodecRow& with_network(const CodecRow& row, NetworkKind network) { return codec_at(row.predictor, network, row.coder); }

}  // namespace spikey::format
