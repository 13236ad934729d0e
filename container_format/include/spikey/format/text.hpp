// Text from acquisition files for the metadata, which is UTF-8 JSON: channel names
// and units as the files give them, in whatever encoding their software used (SPEC.md §4.3).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace spikey::format {

// Whether `text` is well-formed UTF-8 (shortest forms only, no surrogates, at most U+10FFFF).
inline bool is_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[i + k]); };
    const std::uint8_t b = byte(0);
    std::size_t length = 0;
    std::uint32_t lowest = 0;
    if (b < 0x80) length = 1;
    else if ((b & 0xe0) == 0xc0) length = 2, lowest = 0x80;
    else if ((b & 0xf0) == 0xe0) length = 3, lowest = 0x800;
    else if ((b & 0xf8) == 0xf0) length = 4, lowest = 0x10000;
    else return false;
    if (i + length > text.size()) return false;
    std::uint32_t code = length == 1 ? b : b & (0x7fu >> length);
    for (std::size_t k = 1; k < length; ++k) {
      if ((byte(k) & 0xc0) != 0x80) return false;
      code = code << 6 | (byte(k) & 0x3fu);
    }
    if (code < lowest || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

// `text` as UTF-8: unchanged when it is UTF-8 already, else read as Latin-1 (ISO 8859-1, each
// byte its own code point: what headers written on Windows hold, such as "µV" as 0xB5 'V').
inline std::string utf8_text(std::string_view text) {
  if (is_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() * 2);
  for (const char c : text) {
    const auto b = static_cast<std::uint8_t>(c);
    if (b < 0x80) {
      out.push_back(c);
    } else {
      out.push_back(static_cast<char>(0xc0 | (b >> 6)));
      out.push_back(static_cast<char>(0x80 | (b & 0x3f)));
    }
  }
  return out;
}

}  // namespace spikey::format
