// LSB-first bit packing (SPEC.md §6.2): bit i of a stream is bit (i mod 8) of byte i/8.
// Values are written with their least significant bit first. Streams are padded with
// zero bits to a multiple of 32 bits, so a stream is a whole number of little-endian
// 32-bit words and GPU lanes can own disjoint words.
#pragma once

#include <cstring>

#include "spikey/format/hd.hpp"

namespace spikey::format {

// Sequential writer into caller-owned 32-bit words. Branch-free: after every field it
// stores 8 bytes of its accumulator and advances by the whole bytes completed, so the caller
// sizes `words` from the codec's worst-case bound, which includes kBitWriterSlackWords.
class BitWriter {
 public:
  static constexpr int kSlackWords = 2;  // the 8-byte store may run this far past the last bit

  SPIKEY_HD explicit BitWriter(std::uint32_t* words) : start_(reinterpret_cast<std::uint8_t*>(words)), out_(start_) {}

  // Appends the low `bit_count` bits of `value`, bit_count in [0, 32].
  SPIKEY_HD void write(std::uint32_t value, int bit_count) { write_field(std::uint64_t{value} & low_bit_mask64(bit_count), bit_count); }

  // Appends a bit field of `bit_count` bits in [0, 56] whose higher bits are zero.
  SPIKEY_HD void write_field(std::uint64_t value, int bit_count) {
    accumulator_ |= value << pending_bits_;
    pending_bits_ += bit_count;  // < 8 + 56
    std::memcpy(out_, &accumulator_, 8);  // little-endian host/device (checked in wire.hpp)
    out_ += pending_bits_ >> 3;
    accumulator_ >>= pending_bits_ & ~7;
    pending_bits_ &= 7;
  }

  // Appends `count` zero bits (any count >= 0).
  SPIKEY_HD void write_zeros(int count) {
    while (count > 32) {
      write(0, 32);
      count -= 32;
    }
    write(0, count);
  }

  // Pads with zeros to a 32-bit boundary; returns the stream length in words.
  SPIKEY_HD std::uint32_t finish() {
    const std::uint64_t bits = bits_written();
    std::memcpy(out_, &accumulator_, 8);  // the partial byte, then zeros: covers the padding
    return static_cast<std::uint32_t>((bits + 31) / 32);
  }

  SPIKEY_HD std::uint64_t bits_written() const { return static_cast<std::uint64_t>(out_ - start_) * 8 + static_cast<std::uint64_t>(pending_bits_); }

 private:
  std::uint8_t* start_;
  std::uint8_t* out_;
  std::uint64_t accumulator_ = 0;
  int pending_bits_ = 0;
};

// Sequential reader over a byte range. Reads past the end see zero bits and never touch
// memory outside [data, data + size_bytes); callers detect overruns with overran().
class BitReader {
 public:
  static constexpr int kMinPeekBits = 57;  // peek() always holds at least this many valid bits

  SPIKEY_HD BitReader(const std::uint8_t* data, std::uint64_t size_bytes) : data_(data), size_bytes_(size_bytes) {}

  // The next >= 57 bits of the stream, LSB first (zero beyond the end).
  SPIKEY_HD std::uint64_t peek() const {
    const std::uint64_t byte = position_ >> 3;
    std::uint64_t word = 0;
    if (byte + 8 <= size_bytes_) {
      std::memcpy(&word, data_ + byte, 8);  // little-endian host/device (checked in wire.hpp)
    } else {
      for (std::uint64_t i = byte; i < size_bytes_; ++i) word |= std::uint64_t{data_[i]} << (8 * (i - byte));
    }
    return word >> (position_ & 7);
  }

  SPIKEY_HD void skip(int bit_count) { position_ += static_cast<std::uint64_t>(bit_count); }

  // Reads `bit_count` bits, bit_count in [0, 32].
  SPIKEY_HD std::uint32_t read(int bit_count) {
    const auto value = static_cast<std::uint32_t>(peek() & low_bit_mask64(bit_count));
    skip(bit_count);
    return value;
  }

  SPIKEY_HD std::uint64_t position_bits() const { return position_; }
  SPIKEY_HD bool overran() const { return position_ > size_bytes_ * 8; }

 private:
  const std::uint8_t* data_;
  std::uint64_t size_bytes_;
  std::uint64_t position_ = 0;
};

}  // namespace spikey::format
