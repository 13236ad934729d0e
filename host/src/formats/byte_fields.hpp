// Little-endian fields of binary acquisition headers (Blackrock, Plexon, Spike2, AlphaOmega), read at a byte offset
// the caller has checked lies inside the file.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace spikey::host {

inline std::uint32_t u32_at(std::span<const std::uint8_t> b, std::uint64_t at) {
  std::uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
inline std::int32_t i32_at(std::span<const std::uint8_t> b, std::uint64_t at) { return static_cast<std::int32_t>(u32_at(b, at)); }
inline std::uint16_t u16_at(std::span<const std::uint8_t> b, std::uint64_t at) {
  std::uint16_t v;
  std::memcpy(&v, b.data() + at, 2);
  return v;
}
inline std::int16_t i16_at(std::span<const std::uint8_t> b, std::uint64_t at) { return static_cast<std::int16_t>(u16_at(b, at)); }
inline float f32_at(std::span<const std::uint8_t> b, std::uint64_t at) {
  float v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
// A NUL-padded text field of at most `size` bytes.
inline std::string text_at(std::span<const std::uint8_t> b, std::uint64_t at, std::size_t size) {
  const char* p = reinterpret_cast<const char*>(b.data() + at);
  return std::string(p, ::strnlen(p, size));
}

}  // namespace spikey::host
