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

#if !defined(__CUDA_ARCH__)
// ceil(2^64 / f) for every frequency f in [2, 2^16] (0 for f = 0 and 1), so that the encoder's
// quotient state / f is a multiply: for any state s < 2^32, floor(s * ceil(2^64 / f) / 2^64) =
// floor(s / f), since s * (ceil(2^64 / f) - 2^64 / f) < 2^32 stays below the 2^64 / f that
// separates s / f from the next integer. A CPU's 32-bit division costs 14 to 40 cycles and
// stood in the encoder's chain from one symbol to the next.
inline const std::uint64_t* rans_reciprocals() {
  static const std::uint64_t* const table = [] {
    static std::uint64_t values[kRansTotal + 1] = {};
    for (std::uint32_t f = 2; f <= kRansTotal; ++f) values[f] = ~std::uint64_t{0} / f + 1;  // ceil(a / b) = floor((a - 1) / b) + 1
    return values;
  }();
  return table;
}
#endif

// floor(state / freq), freq in [1, 2^16]: by a reciprocal on a CPU (rans_reciprocals), by
// division on a GPU.
SPIKEY_HD std::uint32_t rans_quotient(std::uint32_t state, std::uint32_t freq, [[maybe_unused]] const std::uint64_t* reciprocals) {
#if defined(__CUDA_ARCH__)
  return state / freq;
#else
  __extension__ using Product = unsigned __int128;  // GCC and Clang; __extension__: no -Wpedantic warning
  const Product product = static_cast<Product>(state) * reciprocals[freq];
  return static_cast<std::uint32_t>(product >> 64) + (freq == 1 ? state : 0u);  // reciprocals[1] is 0
#endif
}

// What an encoder divides with: the table on a CPU, none on a GPU.
SPIKEY_HD const std::uint64_t* rans_encoder_reciprocals() {
#if defined(__CUDA_ARCH__)
  return nullptr;
#else
  return rans_reciprocals();
#endif
}

// Encoder: `cursor` points one past the end of a byte buffer; each emitted byte is stored just
// before it.
struct RansEncoder {
  std::uint32_t state = kRansLow;
  std::uint8_t* cursor = nullptr;
  const std::uint64_t* reciprocals = rans_encoder_reciprocals();

  SPIKEY_HD void put(std::uint32_t cum, std::uint32_t freq) {
    // A state at or above freq * 2^16 would leave [kRansLow, 2^32) after the step.
    const std::uint64_t limit = std::uint64_t{freq} << 16;
    while (std::uint64_t{state} >= limit) {
      *--cursor = static_cast<std::uint8_t>(state & 0xffu);
      state >>= 8;
    }
    const std::uint32_t quotient = rans_quotient(state, freq, reciprocals);
    state = (quotient << kRansProbabilityBits) + (state - quotient * freq) + cum;
  }

  // put() into a buffer with two writable bytes below wherever the cursor ends (a segment
  // reserves its state's four there, mt_finish_segment). On a CPU the renormalisation's zero to
  // two bytes (state < 2^32 and freq << 16 >= 2^16: never three) are both stored and the cursor
  // moved by their count, so that no branch waits on the state: the same bytes as put(). A GPU
  // keeps the loop (its byte stores go to global memory).
  SPIKEY_HD void put_with_headroom(std::uint32_t cum, std::uint32_t freq) {
#if defined(__CUDA_ARCH__)
    put(cum, freq);
#else
    const std::uint64_t limit = std::uint64_t{freq} << 16;
    const auto bytes = static_cast<std::uint32_t>(std::uint64_t{state} >= limit) + static_cast<std::uint32_t>(std::uint64_t{state} >= limit << 8);
    cursor[-1] = static_cast<std::uint8_t>(state & 0xffu);
    cursor[-2] = static_cast<std::uint8_t>((state >> 8) & 0xffu);
    cursor -= bytes;
    state = static_cast<std::uint32_t>(std::uint64_t{state} >> (8 * bytes));
    const std::uint32_t quotient = rans_quotient(state, freq, reciprocals);
    state = (quotient << kRansProbabilityBits) + (state - quotient * freq) + cum;
#endif
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
