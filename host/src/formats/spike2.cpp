// CED Spike2 .smr files (the SON filing system, versions 1 to 8: 32-bit file offsets), as
// Spike2 and the SON library write them. Little-endian throughout.
//
//   file header, 512 bytes: 0 i16 system ID (the SON version); 2 "(C) CED 87"; 20 i16
//     usPerTime; 22 i16 timePerADC; 30 i16 channel headers C; from system ID 6, 44 f64 dTimeBase
//     (seconds; 1e-6 before)
//   C channel headers of 140 bytes from byte 512: 6 i32 first data block (-1: none); 16 i16
//     extra bytes per item (a waveform mark's points); 102 i32 lChanDvd; 108 title (a length
//     byte, then up to 9 characters); 118 f32 ideal rate; 122 u8 kind (1 waveform, 6 waveform
//     marks; 2-5, 7-9 events, markers, text and float channels); kinds 1 and 6: 124 f32 scale,
//     128 f32 offset, 132 units (a length byte, then up to 5 characters), 138 i16 divide
//   data blocks, each channel's a chain (a 20-byte header: 0 i32 previous block, 4 i32 next block
//     or -1, 8 and 12 i32 first and last times, 16 u16 channel number + 1 in its low byte, 18 u16
//     items), its items after the header: int16 samples (kind 1), or 8 bytes of time and
//     markers then extra / 2 int16 points (kind 6); a block's end past its items is unused.
//
// The samples lie in runs between framing of any length, so the file is records of one channel
// each with tails (SPEC §4.2, version 17): every waveform block's items are a record of its
// channel, every waveform mark's points a record of its channel of snippets, and everything
// else (the block headers, the unused ends of blocks, the other channels' blocks) is a record's
// tail or the prefix. A file whose chains do not check out is kept whole, with a note.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "byte_fields.hpp"
#include "spikey/host/acquisition.hpp"

namespace spikey::host {

namespace {

constexpr std::uint64_t kSonFileHeader = 512, kSonChannelHeader = 140, kSonBlockHeader = 20, kSonMarkHead = 8;
constexpr std::uint8_t kSonWaveform = 1, kSonWaveformMarks = 6;
constexpr char kSonCopyright[] = "(C) CED 87";

// A length-prefixed (Pascal) string of at most `size` characters after its length byte.
std::string son_text_at(std::span<const std::uint8_t> b, std::uint64_t at, std::size_t size) {
  const std::size_t n = std::min<std::size_t>(b[at], size);
  std::string s(reinterpret_cast<const char*>(b.data() + at + 1), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  return s;
}

// Microvolts per unit of the channel's units, where they are volts.
std::optional<double> son_microvolts_per(std::string units) {
  std::transform(units.begin(), units.end(), units.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (units == "v" || units == "volt" || units == "volts") return 1e6;
  if (units == "mv" || units == "millivolt" || units == "millivolts") return 1e3;
  if (units == "uv" || units == "\xb5v" || units == "\xc2\xb5v" || units == "microvolts") return 1.0;
  return std::nullopt;
}

}  // namespace

bool is_spike2_smr(const std::filesystem::path& file) {
  if (!has_extension(file, ".smr")) return false;
  std::ifstream in(file, std::ios::binary);
  char head[12] = {};
  return in.read(head, sizeof head) && std::memcmp(head + 2, kSonCopyright, sizeof kSonCopyright - 1) == 0;
}

InputSource open_spike2_smr(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note) {
  InputSource src{file, restore_path, format::SourceKind::spike2, MappedFile(file)};
  const auto b = src.map.bytes();
  const std::string name = file.string();
  const auto whole = [&](const std::string& why) {
    note(name + ": " + why + "; kept whole as a side file");
    return open_side_file(file, restore_path);
  };
  if (b.size() < kSonFileHeader) return whole("shorter than a Spike2 file header (512 bytes)");
  const std::int16_t system_id = i16_at(b, 0), us_per_time = i16_at(b, 20), time_per_adc = i16_at(b, 22), headers = i16_at(b, 30);
  if (system_id < 1 || system_id > 8)
    return whole("byte 0: SON version " + std::to_string(system_id) + " (only versions 1 to 8, files of 32-bit offsets, are read)");
  if (headers < 1 || kSonFileHeader + kSonChannelHeader * static_cast<std::uint64_t>(headers) > b.size())
    return whole("byte 30: " + std::to_string(headers) + " channel headers do not fit in the file");
  const std::uint64_t first_block_at = kSonFileHeader + kSonChannelHeader * static_cast<std::uint64_t>(headers);
  double time_base = 1e-6;
  if (system_id >= 6) std::memcpy(&time_base, b.data() + 44, 8);

  // Each waveform or waveform-mark channel's runs of samples, chain by chain (records without
  // framing: each starts at its first sample).
  std::vector<ChannelRun> runs;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks;  // [start, end of items) of every block read
  for (std::int16_t c = 0; c < headers; ++c) {
    const std::uint64_t h = kSonFileHeader + kSonChannelHeader * static_cast<std::uint64_t>(c);
    const std::uint8_t kind = b[h + 122];
    const std::int16_t extra = i16_at(b, h + 16);
    if (kind != kSonWaveform && !(kind == kSonWaveformMarks && extra > 0 && extra % 2 == 0)) continue;
    const std::string channel = "channel " + std::to_string(c + 1);
    const std::uint64_t item_bytes = kind == kSonWaveform ? 2 : kSonMarkHead + static_cast<std::uint64_t>(extra);
    const auto before = runs.size();
    std::int64_t at = i32_at(b, h + 6), previous = -1, previous_end = 0;
    for (; at != -1; at = i32_at(b, static_cast<std::uint64_t>(at) + 4)) {
      // Forward past the block before (so each chain ends), and no more blocks than fit apart.
      if (at < static_cast<std::int64_t>(first_block_at) || at < previous_end)
        return whole(channel + "'s chain of blocks goes to byte " + std::to_string(at) + " after the block at " + std::to_string(previous) +
                     " (not forward and after the headers)");
      if (blocks.size() >= b.size() / kSonBlockHeader) return whole(channel + ": more blocks than the file holds apart");
      const auto block = static_cast<std::uint64_t>(at);
      const std::uint32_t items = block + kSonBlockHeader <= b.size() ? u16_at(b, block + 18) : 0;
      const std::uint64_t end = block + kSonBlockHeader + items * item_bytes;
      if (end > b.size()) {  // a file cut short: the chain's blocks from here stay bytes of the file
        note("warning: " + name + ": the file ends inside " + channel + "'s block at byte " + std::to_string(block) +
             " (a copy cut short?); that block and the rest of its chain are kept byte for byte");
        break;
      }
      if ((u16_at(b, block + 16) & 0xff) != ((c + 1) & 0xff))
        return whole("byte " + std::to_string(block + 16) + ": the block of " + channel + " names channel " + std::to_string(u16_at(b, block + 16) & 0xff));
      blocks.emplace_back(block, end);
      previous_end = static_cast<std::int64_t>(end);
      if (kind == kSonWaveform && items > 0) runs.push_back({block + kSonBlockHeader, items, 0});
      if (kind == kSonWaveformMarks)
        for (std::uint32_t i = 0; i < items; ++i) runs.push_back({block + kSonBlockHeader + i * item_bytes + kSonMarkHead, static_cast<std::uint32_t>(extra / 2), 0});
      previous = at;
    }
    if (runs.size() == before) continue;
    for (auto r = before; r < runs.size(); ++r) runs[r].channel = src.channel_count;
    ++src.channel_count;

    const double scale = f32_at(b, h + 124);
    const std::string units = son_text_at(b, h + 132, 5);
    const std::optional<double> per = son_microvolts_per(units);
    const std::optional<double> uv = per && std::isfinite(scale) && scale != 0 ? std::optional<double>(scale / 6553.6 * *per) : std::nullopt;
    const double interval = system_id < 6 ? i16_at(b, h + 138) * static_cast<double>(us_per_time) * time_per_adc * 1e-6
                                          : i32_at(b, h + 102) * static_cast<double>(us_per_time) * time_base;
    double rate = interval > 0 && std::isfinite(interval) ? 1.0 / interval : f32_at(b, h + 118);
    if (!(rate > 0) || !std::isfinite(rate)) return whole(channel + ": no sampling rate (its divisor and ideal rate are not positive)");
    if (std::abs(rate - std::round(rate)) < 1e-9 * rate) rate = std::round(rate);  // 1 / (2 x 20 us) is 25000, not 25000.000000000004
    const std::string title = son_text_at(b, h + 108, 9);
    src.labels.push_back({title.empty() ? "ch" + std::to_string(c + 1) : title, uv, uv ? "uV" : "", false});
    src.channel_rates.push_back(rate);
    src.snippet_channels.push_back(kind == kSonWaveformMarks);
  }
  if (src.channel_count == 0) return src;  // no samples: open_record_file keeps it as a side file
  std::sort(blocks.begin(), blocks.end());
  for (std::size_t i = 1; i < blocks.size(); ++i)
    if (blocks[i].first < blocks[i - 1].second)
      return whole("byte " + std::to_string(blocks[i].first) + ": a block starts inside the block at byte " + std::to_string(blocks[i - 1].first));

  // The runs in file order are the records; the bytes between them their tails.
  std::stable_sort(runs.begin(), runs.end(), [](const ChannelRun& x, const ChannelRun& y) { return x.record < y.record; });
  std::uint64_t far = 0;
  if (!set_records_with_tails(src, runs, far)) return whole("byte " + std::to_string(far) + ": over 4 GiB between two blocks");
  return src;
}

}  // namespace spikey::host
