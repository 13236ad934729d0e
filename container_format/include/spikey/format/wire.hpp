// Explicit little-endian serialisation of the container's fixed-size records (SPEC.md §3).
// Nothing is ever read or written by casting a struct over bytes.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "spikey/format/hd.hpp"

static_assert(std::endian::native == std::endian::little,
              "the bit packing and wire code assume a little-endian host (x86-64, ARM64)");

namespace spikey::format {

// Appends fields to a byte vector in little-endian order.
class WireWriter {
 public:
  explicit WireWriter(std::vector<std::uint8_t>& out) : out_(out) {}
  void u16(std::uint16_t v) { put(v); }
  void u32(std::uint32_t v) { put(v); }
  void u64(std::uint64_t v) { put(v); }
  void bytes(std::span<const std::uint8_t> data) {
    const std::size_t old = out_.size();
    out_.resize(old + data.size());
    if (!data.empty()) std::memcpy(out_.data() + old, data.data(), data.size());
  }

 private:
  template <typename T>
  void put(T v) {
    const std::size_t old = out_.size();
    out_.resize(old + sizeof(T));
    std::memcpy(out_.data() + old, &v, sizeof(T));
  }
  std::vector<std::uint8_t>& out_;
};

// Reads fields from a byte span in little-endian order. The caller checks the span's size
// against the record size first, so reads here never run past the end.
class WireReader {
 public:
  explicit WireReader(std::span<const std::uint8_t> in) : in_(in) {}
  std::uint16_t u16() { return get<std::uint16_t>(); }
  std::uint32_t u32() { return get<std::uint32_t>(); }
  std::uint64_t u64() { return get<std::uint64_t>(); }
  std::span<const std::uint8_t> bytes(std::size_t n) {
    auto s = in_.subspan(position_, n);
    position_ += n;
    return s;
  }
  std::size_t position() const { return position_; }

 private:
  template <typename T>
  T get() {
    T v;
    std::memcpy(&v, in_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return v;
  }
  std::span<const std::uint8_t> in_;
  std::size_t position_ = 0;
};

inline void store_u32_le(std::uint8_t* dst, std::uint32_t v) { std::memcpy(dst, &v, 4); }
inline std::uint32_t load_u32_le(const std::uint8_t* src) {
  std::uint32_t v;
  std::memcpy(&v, src, 4);
  return v;
}
inline void store_u64_le(std::uint8_t* dst, std::uint64_t v) { std::memcpy(dst, &v, 8); }
inline std::uint64_t load_u64_le(const std::uint8_t* src) {
  std::uint64_t v;
  std::memcpy(&v, src, 8);
  return v;
}

// Unsigned LEB128 (7 bits per byte, low group first, high bit on all but the last byte), as
// the chunk payload's stream sizes (§6.3) and sync runs (§6.10) use it.
inline void put_leb128(std::vector<std::uint8_t>& out, std::uint64_t v) {
  const std::size_t at = out.size();
  out.resize(at + leb128_length(v));
  write_leb128(v, out.data() + at);
}
// Reads a value of at most `max_bytes` bytes at `*position`, advancing it; false when the bytes
// end first or the value is longer.
inline bool read_leb128(std::span<const std::uint8_t> in, std::size_t* position, std::size_t max_bytes, std::uint64_t* value) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < max_bytes; ++i) {
    if (*position == in.size()) return false;
    const std::uint8_t byte = in[(*position)++];
    v |= std::uint64_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80) == 0) return *value = v, true;
  }
  return false;
}

}  // namespace spikey::format
