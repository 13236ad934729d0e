#include "spikey/host/wav.hpp"

#include <algorithm>
#include <cstring>

#include "spikey/format/wire.hpp"

namespace spikey::host {

namespace {

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) { return format::load_u32_le(p); }
bool tag_is(const std::uint8_t* p, const char* tag) { return std::memcmp(p, tag, 4) == 0; }

// KSDATAFORMAT_SUBTYPE_PCM: 00000001-0000-0010-8000-00aa00389b71 (first two bytes are the format tag).
constexpr std::uint8_t kPcmSubformatTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                                0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71};

}  // namespace

bool looks_like_wav(std::span<const std::uint8_t> file) {
  return file.size() >= 12 && (tag_is(file.data(), "RIFF") || tag_is(file.data(), "RF64")) && tag_is(file.data() + 8, "WAVE");
}

WavLayout parse_wav(std::span<const std::uint8_t> file, const std::string& name, bool take_unclaimed) {
  const auto fail = [&](const std::string& why) -> InputError { return InputError(name + ": " + why); };
  if (file.empty()) throw fail("empty file, not a WAV");
  if (!looks_like_wav(file)) throw fail("not a WAV file (no RIFF/WAVE header)");
  if (tag_is(file.data(), "RF64")) throw fail("RF64 (64-bit WAV) files are not supported");

  bool have_format = false;
  WavLayout layout;
  std::uint64_t pos = 12;
  while (pos + 8 <= file.size()) {
    const std::uint8_t* chunk = file.data() + pos;
    const std::uint64_t size = le32(chunk + 4);
    const std::uint64_t body = pos + 8;
    if (tag_is(chunk, "fmt ")) {
      if (size < 16 || body + size > file.size()) throw fail("malformed fmt chunk");
      const std::uint8_t* f = file.data() + body;
      std::uint16_t format_tag = le16(f);
      const std::uint16_t channels = le16(f + 2);
      const std::uint32_t rate = le32(f + 4);
      const std::uint16_t block_align = le16(f + 12);
      const std::uint16_t bits = le16(f + 14);
      if (format_tag == 0xFFFE) {
        if (size < 40 || le16(f + 16) < 22) throw fail("malformed WAVE_FORMAT_EXTENSIBLE fmt chunk");
        const std::uint16_t valid_bits = le16(f + 18);
        if (std::memcmp(f + 26, kPcmSubformatTail, sizeof kPcmSubformatTail) != 0) throw fail("extensible WAV with a non-PCM subformat is not supported");
        if (valid_bits != 16 && valid_bits != 0) throw fail(std::to_string(valid_bits) + "-bit samples are not supported (16-bit PCM only)");
        format_tag = le16(f + 24);
      }
      if (format_tag == 3) throw fail("floating-point WAV is not supported (16-bit PCM only)");
      if (format_tag != 1) throw fail("WAV format tag " + std::to_string(format_tag) + " is not supported (16-bit PCM only)");
      if (bits != 16) throw fail(std::to_string(bits) + "-bit WAV is not supported (16-bit PCM only)");
      if (channels == 0) throw fail("WAV declares 0 channels");
      if (block_align != channels * 2u) throw fail("WAV block align does not match 16-bit samples");
      if (rate == 0) throw fail("WAV declares a sample rate of 0");
      layout.channels = channels;
      layout.sample_rate = rate;
      have_format = true;
    } else if (tag_is(chunk, "data")) {
      if (!have_format) {
        // Say which: no fmt chunk at all, or one after the data (which this reader does not take).
        std::uint64_t later = body + size + (size & 1);
        while (later + 8 <= file.size()) {
          if (tag_is(file.data() + later, "fmt "))
            throw fail("the data chunk (byte " + std::to_string(pos) + ") comes before the fmt chunk (byte " + std::to_string(later) + ")");
          const std::uint64_t later_size = le32(file.data() + later + 4);
          later += 8 + later_size + (later_size & 1);
        }
        throw fail("no fmt chunk before the data chunk at byte " + std::to_string(pos));
      }
      layout.data_offset = body;
      // A data size past the end of the file (recorders that never patched the header) is
      // clipped to the file; the original size field is kept verbatim in the prefix.
      const std::uint64_t available = std::min<std::uint64_t>(size, file.size() - body);
      const std::uint64_t frame_bytes = std::uint64_t{layout.channels} * 2;
      layout.frames = layout.declared_frames = available / frame_bytes;
      // Bytes after the declared data that do not start a chunk (a printable tag and a size that
      // fits the file) are what a recorder that never finalized the header left: samples.
      const std::uint64_t after = body + size;
      if (after < file.size()) {
        const std::uint8_t* next = file.data() + after + (size & 1);
        const bool chunk_follows = after + (size & 1) + 8 <= file.size() &&
                                   std::all_of(next, next + 4, [](std::uint8_t c) { return c >= 0x20 && c <= 0x7e; }) &&
                                   after + (size & 1) + 8 + le32(next + 4) <= file.size();
        if (!chunk_follows) layout.unclaimed_bytes = file.size() - after;
      }
      if (take_unclaimed && layout.unclaimed_bytes > 0) layout.frames = (file.size() - body) / frame_bytes;
      return layout;
    }
    if (body + size > file.size()) {
      std::string tag(reinterpret_cast<const char*>(chunk), 4);
      for (char& c : tag)
        if (c < 0x20 || c > 0x7e) c = '?';
      throw fail("the \"" + tag + "\" chunk at byte " + std::to_string(pos) + " declares " + std::to_string(size) + " bytes, past the end of the file (" +
                 std::to_string(file.size()) + " bytes)" + (have_format ? "; no data chunk before it" : ""));
    }
    pos = body + size + (size & 1);  // chunks are padded to even sizes
  }
  throw fail(have_format ? "no data chunk" : "no fmt chunk");
}

std::vector<std::uint8_t> wav_header(std::uint32_t channels, std::uint32_t sample_rate, std::uint64_t frames) {
  const bool extensible = channels > 2;
  const std::uint32_t fmt_size = extensible ? 40 : 16;
  const std::uint64_t data_size = frames * channels * 2;
  if (data_size > 0xFFFFFFFFull - 64) throw std::runtime_error("window too large for a WAV file (4 GiB limit)");
  std::vector<std::uint8_t> out;
  format::WireWriter w(out);
  const auto tag = [&](const char* t) { w.bytes({reinterpret_cast<const std::uint8_t*>(t), 4}); };
  tag("RIFF");
  w.u32(static_cast<std::uint32_t>(4 + 8 + fmt_size + 8 + data_size));
  tag("WAVE");
  tag("fmt ");
  w.u32(fmt_size);
  w.u16(extensible ? 0xFFFE : 1);
  w.u16(static_cast<std::uint16_t>(channels));
  w.u32(sample_rate);
  w.u32(sample_rate * channels * 2);
  w.u16(static_cast<std::uint16_t>(channels * 2));
  w.u16(16);
  if (extensible) {
    w.u16(22);  // extension size
    w.u16(16);  // valid bits
    w.u32(0);   // channel mask: no speaker positions
    w.u16(1);   // subformat: PCM
    w.bytes(kPcmSubformatTail);
  }
  tag("data");
  w.u32(static_cast<std::uint32_t>(data_size));
  return out;
}

}  // namespace spikey::host
