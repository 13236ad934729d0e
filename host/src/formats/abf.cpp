// Axon Binary Format files (pCLAMP, AxoScope, Clampex): ABF1 ("ABF ", header versions to 1.8)
// and ABF2 ("ABF2"), as Molecular Devices' ABF SDK headers lay them out. Little-endian.
//
//   ABF1: 10 i32 points acquired (all channels), 14 i16 points ignored, 40 i32 data block (of
//     512 bytes), 100 i16 data format (0 int16, 1 float32), 120 i16 channels, 122 f32 sample
//     interval in us (all channels together), 244 f32 ADC range, 252 i32 ADC resolution, 410
//     i16[16] sampling sequence (physical channel of each sampled one), 442 char[16][10] names,
//     602 char[16][8] units, 730 / 922 / 986 / 1050 / 1114 f32[16] programmable gain, instrument
//     scale factor, instrument offset, signal gain, signal offset; from 4640 bytes of header,
//     4512 i16[16] telegraph enable and 4576 f32[16] telegraph additional gain
//   ABF2: 30 i16 data format; sections of 16 bytes (u32 block, u32 entry size, i64 entries)
//     from 76: protocol (76: 2 f32 sequence interval in us per channel, 110 f32 ADC range, 118
//     i32 ADC resolution), ADC (92: per channel, 24 i16 ..., 28 f32 programmable gain, 6 f32
//     telegraph gain with 2 i16 enable, 40 f32 instrument scale factor, 44 offset, 48 f32 signal
//     gain, 52 offset, 74 i32 name and 78 i32 units string index), strings (220), data (236)
//
// The samples, channels interleaved (episodic sweeps one after another, as the file holds them),
// are the source's frames; the header and the sections before them are its prefix, everything
// after (synch array, tags, a point left over) its suffix. Each channel's step in its units is
// pCLAMP's scaling (range / resolution / the gains) when its offsets are 0. Float32 data whose
// values are all int16 codes times one step are coded as those codes (SPEC §4.2, version 12);
// other float data keep the file whole.
#include <cmath>
#include <cstring>
#include <fstream>

#include "byte_fields.hpp"
#include "formats/text_fields.hpp"
#include "float_grid.hpp"
#include "spikey/host/acquisition.hpp"

namespace spikey::host {

namespace {

constexpr std::uint64_t kAbfBlock = 512, kAbf2Sections = 76, kAbf1TelegraphEnd = 4640;

struct AbfChannel {
  std::string name, units;
  std::optional<double> step;  // the size of one code in `units`
};

// pCLAMP's scaling of a code: range / resolution / (scale factor x signal gain x programmable
// gain x telegraph gain), with no offset; nothing when a factor is not a positive number or an
// offset is not 0 (a step alone cannot say it).
std::optional<double> abf_step(double range, double resolution, double scale, double signal_gain, double programmable, double telegraph,
                               double offsets) {
  const double divisor = scale * signal_gain * programmable * telegraph;
  const double step = range / resolution / divisor;
  if (offsets != 0 || !(range > 0) || !(resolution > 0) || !(divisor > 0) || !std::isfinite(step) || !(step > 0)) return std::nullopt;
  return step;
}

std::string abf_text(std::span<const std::uint8_t> b, std::uint64_t at, std::size_t size) { return trimmed(text_at(b, at, size)); }

struct AbfLayout {
  std::uint64_t data = 0, points = 0;
  unsigned width = 2;  // bytes a point
  std::uint32_t channels = 0;
  double rate = 0;
  std::vector<AbfChannel> labels;
};

// What the header says, or an empty string and the layout; `why` when it cannot be read.
std::string read_abf1(std::span<const std::uint8_t> b, AbfLayout& l) {
  if (b.size() < 1434) return "shorter than an ABF1 header";
  const std::int16_t channels = i16_at(b, 120), format = i16_at(b, 100);
  if (channels < 1 || channels > 16) return "byte 120: " + std::to_string(channels) + " channels (1 to 16)";
  if (format != 0 && format != 1) return "byte 100: data format " + std::to_string(format) + " (0 int16, 1 float32)";
  l.channels = static_cast<std::uint32_t>(channels);
  l.width = format == 0 ? 2 : 4;
  // Points ignored at the data's start (AxoLab's gap-free files) are points, of `width` bytes.
  l.data = static_cast<std::uint64_t>(std::max(0, i32_at(b, 40))) * kAbfBlock +
           static_cast<std::uint64_t>(std::max<std::int16_t>(0, i16_at(b, 14))) * l.width;
  l.points = static_cast<std::uint64_t>(std::max(0, i32_at(b, 10)));
  l.rate = 1e6 / (static_cast<double>(f32_at(b, 122)) * channels);
  const bool telegraph = l.data >= kAbf1TelegraphEnd && b.size() >= kAbf1TelegraphEnd;
  for (std::int16_t i = 0; i < channels; ++i) {
    const std::int16_t physical = i16_at(b, 410 + 2 * static_cast<std::uint64_t>(i));
    if (physical < 0 || physical > 15) return "byte " + std::to_string(410 + 2 * i) + ": sampled channel " + std::to_string(physical) + " (0 to 15)";
    const auto p = static_cast<std::uint64_t>(physical);
    AbfChannel c{abf_text(b, 442 + 10 * p, 10), abf_text(b, 602 + 8 * p, 8), std::nullopt};
    const double telegraph_gain = telegraph && i16_at(b, 4512 + 2 * p) == 1 ? f32_at(b, 4576 + 4 * p) : 1.0;
    c.step = abf_step(f32_at(b, 244), i32_at(b, 252), f32_at(b, 922 + 4 * p), f32_at(b, 1050 + 4 * p), f32_at(b, 730 + 4 * p), telegraph_gain,
                      std::abs(f32_at(b, 986 + 4 * p)) + std::abs(f32_at(b, 1114 + 4 * p)));
    l.labels.push_back(std::move(c));
  }
  return "";
}

std::string read_abf2(std::span<const std::uint8_t> b, AbfLayout& l) {
  if (b.size() < kAbf2Sections + 18 * 16) return "shorter than an ABF2 header";
  const auto section = [&](std::uint64_t at) {
    return std::tuple{static_cast<std::uint64_t>(u32_at(b, at)) * kAbfBlock, static_cast<std::uint64_t>(u32_at(b, at + 4)),
                      static_cast<std::uint64_t>(std::max<std::int64_t>(0, static_cast<std::int64_t>(u32_at(b, at + 8)) |
                                                                               static_cast<std::int64_t>(u32_at(b, at + 12)) << 32))};
  };
  const auto [protocol, protocol_size, protocol_count] = section(kAbf2Sections);
  const auto [adc, adc_size, adc_count] = section(kAbf2Sections + 16);
  const auto [strings, strings_size, strings_count] = section(kAbf2Sections + 9 * 16);
  const auto [data, data_size, data_count] = section(kAbf2Sections + 10 * 16);
  if (protocol_count < 1 || protocol_size < 122 || protocol + 122 > b.size()) return "byte 76: no protocol section in the file";
  if (adc_count < 1 || adc_count > 16 || adc_size < 82 || adc + adc_count * adc_size > b.size())
    return "byte 92: an ADC section of " + std::to_string(adc_count) + " channels that does not fit in the file";
  if (data_size != 2 && data_size != 4) return "byte 240: data points of " + std::to_string(data_size) + " bytes (2 or 4)";
  if ((data_size == 2) != (i16_at(b, 30) == 0)) return "byte 30: data format " + std::to_string(i16_at(b, 30)) + " for points of " + std::to_string(data_size) + " bytes";
  l.channels = static_cast<std::uint32_t>(adc_count);
  l.width = static_cast<unsigned>(data_size);
  l.data = data;
  l.points = data_count;
  l.rate = 1e6 / static_cast<double>(f32_at(b, protocol + 2));
  // The names and units: indices into the strings after the last double NUL of the first string
  // entry (as pCLAMP writes them), counting from 1.
  std::vector<std::string> texts;
  if (strings_count >= 1 && strings_size > 0 && strings + strings_size <= b.size()) {
    const std::string first(reinterpret_cast<const char*>(b.data() + strings), strings_size);
    const std::size_t start = first.rfind(std::string(2, '\0'));
    if (start != std::string::npos)
      for (std::size_t at = start + 2, end; at <= first.size(); at = end + 1) {
        end = std::min(first.find('\0', at), first.size());
        texts.push_back(first.substr(at, end - at));
      }
  }
  const auto text = [&](std::int32_t index) {
    if (index < 1 || static_cast<std::size_t>(index) > texts.size()) return std::string();
    return trimmed(texts[static_cast<std::size_t>(index) - 1]);
  };
  for (std::uint64_t i = 0; i < adc_count; ++i) {
    const std::uint64_t e = adc + i * adc_size;
    AbfChannel c{text(i32_at(b, e + 74)), text(i32_at(b, e + 78)), std::nullopt};
    const double telegraph_gain = i16_at(b, e + 2) == 1 ? f32_at(b, e + 6) : 1.0;
    c.step = abf_step(f32_at(b, protocol + 110), i32_at(b, protocol + 118), f32_at(b, e + 40), f32_at(b, e + 48), f32_at(b, e + 28), telegraph_gain,
                      std::abs(f32_at(b, e + 44)) + std::abs(f32_at(b, e + 52)));
    l.labels.push_back(std::move(c));
  }
  return "";
}

}  // namespace

bool is_abf_file(const std::filesystem::path& file) {
  if (!has_extension(file, ".abf")) return false;
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && (std::memcmp(magic, "ABF ", 4) == 0 || std::memcmp(magic, "ABF2", 4) == 0);
}

InputSource open_abf_file(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note) {
  MappedFile map(file);
  const auto b = map.bytes();
  const std::string name = file.string();
  const auto whole = [&](const std::string& why) {
    note(name + ": " + why + "; kept whole as a side file");
    return open_side_file(file, restore_path);
  };
  AbfLayout l;
  const bool two = std::memcmp(b.data(), "ABF2", 4) == 0;
  if (const std::string why = two ? read_abf2(b, l) : read_abf1(b, l); !why.empty()) return whole(why);
  if (!(l.rate > 0) || !std::isfinite(l.rate)) return whole("no sampling rate (the sample interval is not a positive number)");
  if (std::abs(l.rate - std::round(l.rate)) < 1e-6 * l.rate) l.rate = std::round(l.rate);  // 1e6 / 50 us is 20000
  if (l.data > b.size()) return whole("its data start at byte " + std::to_string(l.data) + ", past the end of the file");
  std::uint64_t frames = l.points / l.channels;
  const std::uint64_t room = (b.size() - l.data) / (std::uint64_t{l.width} * l.channels);
  if (frames > room && room == 0)
    return whole("its header declares " + std::to_string(l.points) + " data points but the file ends before them (a copy cut short?)");
  if (frames > room) {
    note("warning: " + name + ": its header declares " + std::to_string(l.points) + " data points but the file holds " +
         std::to_string(room * l.channels) + " (a copy cut short?): the frames it holds are archived, the rest byte for byte");
    frames = room;
  }
  InputSource src{file, restore_path, format::SourceKind::abf, std::move(map)};
  src.channel_count = l.channels;
  src.data_offset = l.data;
  src.frames = frames;
  src.sample_rate = l.rate;
  if (l.width == 4) {
    const auto grid = find_float_grid(src.map.bytes().subspan(l.data, frames * l.channels * 4), 4, false);
    if (!grid) return whole("float32 data whose values are not all whole multiples of one step (int16 codes)");
    src.float_bytes = 4;
    src.sample_step = *grid;
    for (AbfChannel& c : l.labels) c.step = *grid;
  }
  for (std::uint32_t i = 0; i < l.channels; ++i) {
    AbfChannel& c = l.labels[i];
    src.labels.push_back({c.name.empty() ? "ch" + std::to_string(i) : c.name, c.step, c.step ? c.units : "", false});
  }
  return src;
}

}  // namespace spikey::host
