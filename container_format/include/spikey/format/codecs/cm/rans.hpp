// rANS entropy coder (SPEC.md §6.9.4): 32-bit state in [2^24, 2^32), byte-wise
// renormalisation, probabilities in units of 2^-16. Symbols are (cum, freq) intervals of
// [0, 2^16) with freq >= 1. The state stays at least 2^8 times any frequency, which keeps the
// coder within about 0.0001 bits per symbol of the ideal code length.
//
// The encoder takes symbols in reverse decoding order and emits bytes backwards; the stream is
// the final state (u32, little-endian) followed by the emitted bytes in decoding order. The
// decoder starts from that state and ends, on a valid stream, at exactly kRansLow with every
// byte consumed.
#pragma once

#include "spikey/format/hd.hpp"

namespace spikey::format {

inline constexpr int kRansProbabilityBits = 16;
inline constexpr std::uint32_t kRansTotal = 1u << kRansProbabilityBits;
inline constexpr std::uint32_t kRansLow = 1u << 24;  // states live in [kRansLow, 2^32)

// Encoder: `cursor` points one past the end of a byte buffer; each emitted byte is stored just
// before it.
struct RansEncoder {
  std::uint32_t state = kRansLow;
  std::uint8_t* cursor = nullptr;

  SPIKEY_HD void put(std::uint32_t cum, std::uint32_t freq) {
    // A state at or above freq * 2^16 would leave [kRansLow, 2^32) after the step.
    const std::uint64_t limit = std::uint64_t{freq} << 16;
    while (std::uint64_t{state} >= limit) {
      *--cursor = static_cast<std::uint8_t>(state & 0xffu);
      state >>= 8;
    }
    state = ((state / freq) << kRansProbabilityBits) + (state % freq) + cum;
  }

  // `bits` (0..16) raw bits: a uniform symbol.
  SPIKEY_HD void put_bits(std::uint32_t value, int bits) {
    if (bits == 0) return;
    put(value << (kRansProbabilityBits - bits), 1u << (kRansProbabilityBits - bits));
  }
};

// Decoder over `count` bytes (those after the initial state).
struct RansDecoder {
  std::uint32_t state = kRansLow;
  const std::uint8_t* bytes = nullptr;
  std::uint64_t count = 0;
  std::uint64_t next = 0;
  bool overran = false;

  SPIKEY_HD std::uint32_t slot() const { return state & (kRansTotal - 1); }

  SPIKEY_HD void advance(std::uint32_t cum, std::uint32_t freq) {
    state = freq * (state >> kRansProbabilityBits) + slot() - cum;
    while (state < kRansLow) {
      if (next == count) {
        overran = true;
        state = kRansLow;  // keeps a corrupt stream's arithmetic defined; the caller fails it
        return;
      }
      state = (state << 8) | bytes[next++];
    }
  }

  // advance() without branches on the data: after a step the state is at least 2^8 (freq >= 1),
  // so at most two bytes bring it back to [kRansLow, 2^32).
  SPIKEY_HD void advance_branchless(std::uint32_t cum, std::uint32_t freq) {
    state = freq * (state >> kRansProbabilityBits) + slot() - cum;
    for (int i = 0; i < 2; ++i) {
      const bool need = state < kRansLow;
      const bool have = next < count;
      const std::uint32_t byte = have ? bytes[have ? next : 0] : 0u;
      overran = overran || (need && !have);
      state = need ? (have ? (state << 8) | byte : kRansLow) : state;
      next += (need && have) ? 1u : 0u;
    }
  }

  SPIKEY_HD std::uint32_t get_bits(int bits) {
    if (bits == 0) return 0;
    const std::uint32_t value = slot() >> (kRansProbabilityBits - bits);
    advance(value << (kRansProbabilityBits - bits), 1u << (kRansProbabilityBits - bits));
    return value;
  }

  // A valid stream ends in the initial state with every byte read.
  SPIKEY_HD bool finished_cleanly() const { return !overran && state == kRansLow && next == count; }
};

}  // namespace spikey::format
