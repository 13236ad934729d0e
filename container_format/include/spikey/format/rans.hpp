// rANS entropy coder (SPEC.md §6.11.4): 32-bit state, 16-bit renormalisation, probabilities
// in units of 2^-16. Symbols are (cum, freq) intervals of [0, 2^16) with freq >= 1.
//
// The encoder takes symbols in reverse decoding order and emits 16-bit words backwards; the
// stream is the final state (u32) followed by the emitted words in decoding order. The
// decoder starts from that state and ends, on a valid stream, at exactly kRansLow with every
// word consumed.
#pragma once

#include "spikey/format/hd.hpp"

namespace spikey::format {

inline constexpr int kRansProbabilityBits = 16;
inline constexpr std::uint32_t kRansTotal = 1u << kRansProbabilityBits;
inline constexpr std::uint32_t kRansLow = 1u << 16;  // states live in [kRansLow, 2^32)

// Encoder: `cursor` points one past the end of a buffer of 16-bit words; each emitted word
// is stored just before it.
struct RansEncoder {
  std::uint32_t state = kRansLow;
  std::uint16_t* cursor = nullptr;

  SPIKEY_HD void put(std::uint32_t cum, std::uint32_t freq) {
    // A state at or above freq * 2^16 would leave [kRansLow, 2^32) after the step.
    if (std::uint64_t{state} >= (std::uint64_t{freq} << 16)) {
      *--cursor = static_cast<std::uint16_t>(state & 0xffffu);
      state >>= 16;
    }
    state = ((state / freq) << kRansProbabilityBits) + (state % freq) + cum;
  }

  // `bits` (0..16) raw bits: a uniform symbol.
  SPIKEY_HD void put_bits(std::uint32_t value, int bits) {
    if (bits == 0) return;
    put(value << (kRansProbabilityBits - bits), 1u << (kRansProbabilityBits - bits));
  }
};

// Decoder over `count` 16-bit words (already past the initial state).
struct RansDecoder {
  std::uint32_t state = kRansLow;
  const std::uint8_t* words = nullptr;  // little-endian 16-bit words
  std::uint64_t count = 0;
  std::uint64_t next = 0;
  bool overran = false;

  SPIKEY_HD std::uint32_t slot() const { return state & (kRansTotal - 1); }

  SPIKEY_HD void advance(std::uint32_t cum, std::uint32_t freq) {
    state = freq * (state >> kRansProbabilityBits) + slot() - cum;
    if (state < kRansLow) {
      if (next < count) {
        const std::uint32_t word = words[2 * next] | (std::uint32_t{words[2 * next + 1]} << 8);
        state = (state << 16) | word;
        ++next;
      } else {
        overran = true;
        state = kRansLow;  // keeps a corrupt stream's arithmetic defined; the caller fails it
      }
    }
  }

  SPIKEY_HD std::uint32_t get_bits(int bits) {
    if (bits == 0) return 0;
    const std::uint32_t value = slot() >> (kRansProbabilityBits - bits);
    advance(value << (kRansProbabilityBits - bits), 1u << (kRansProbabilityBits - bits));
    return value;
  }

  // A valid stream ends in the initial state with every word read but, at most, one zero
  // word of padding (streams are whole 32-bit words).
  SPIKEY_HD bool finished_cleanly() const {
    if (overran || state != kRansLow) return false;
    return next == count || (next + 1 == count && words[2 * next] == 0 && words[2 * next + 1] == 0);
  }
};

}  // namespace spikey::format
