// Plexon .plx files, as MAP and OmniPlex systems write them (Plexon Inc., "Plexon data file
// format", header file Plexon.h, versions 100 to 107). Little-endian throughout.
//
//   global header, 7504 bytes:
//     0    u32       magic 0x58454C50 ("PLEX")
//     4    i32       version
//     136  i32       ADFrequency: timestamp ticks per second
//     140  i32       DSP (spike) channels D
//     144  i32       event channels E
//     148  i32       slow (continuous) channels S
//     188  i32       WaveformFreq: the spike waveforms' sampling rate
//     from version 103: 202 u8 bits per spike sample, 203 u8 bits per slow sample,
//     204 u16 spike max magnitude (mV), 206 u16 slow max magnitude (mV);
//     from version 105: 208 u16 spike preamp gain
//   D DSP channel headers of 1020 bytes: 0 char[32] name, 64 i32 channel, 80 i32 gain
//   E event channel headers of 296 bytes
//   S slow channel headers of 296 bytes: 0 char[32] name, 32 i32 channel (0-based),
//     36 i32 sampling rate, 40 i32 gain, 48 i32 preamp gain
//   data blocks to the end of the file: a 16-byte header (i16 type: 1 spike, 4 event,
//   5 continuous; u16 upper byte of the 40-bit timestamp; u32 timestamp; i16 channel; i16
//   unit; i16 waveforms W; i16 words per waveform N), then W x N int16 samples.
//
// The blocks are records of one channel each (SPEC §4.2, version 16): every spike block's
// samples go to one `waveforms` channel of snippets (as a Blackrock .nev's), every continuous
// block's to its slow channel's, each at its own rate; event blocks are records of no samples.
// A block of another type, or one that does not fit in the file, ends the records: it and
// everything after it are kept byte for byte, with a warning.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "byte_fields.hpp"
#include "spikey/host/acquisition.hpp"

namespace spikey::host {

namespace {

constexpr std::uint64_t kGlobalHeader = 7504, kDspHeader = 1020, kEventHeader = 296, kSlowHeader = 296, kBlockHeader = 16;
constexpr std::int16_t kSpikeBlock = 1, kEventBlock = 4, kContinuousBlock = 5;

}  // namespace

bool is_plexon_plx(const std::filesystem::path& file) {
  if (!has_extension(file, ".plx")) return false;
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, sizeof magic) && std::memcmp(magic, "PLEX", sizeof magic) == 0;
}

InputSource open_plexon_plx(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note) {
  InputSource src{file, restore_path, format::SourceKind::plexon, MappedFile(file)};
  const auto b = src.map.bytes();
  const std::string name = file.string();
  const auto whole = [&](const std::string& why) {
    note(name + ": " + why + "; kept whole as a side file");
    return open_side_file(file, restore_path);
  };
  if (b.size() < kGlobalHeader) return whole("shorter than a PLX global header (7504 bytes)");
  const std::int32_t version = i32_at(b, 4), dsp = i32_at(b, 140), events = i32_at(b, 144), slow = i32_at(b, 148);
  if (dsp < 0 || events < 0 || slow < 0 || dsp > 65535 || events > 65535 || slow > 65535)
    return whole("bytes 140-151: channel counts " + std::to_string(dsp) + ", " + std::to_string(events) + ", " + std::to_string(slow) + " are not 0 to 65535");
  const std::uint64_t headers = kGlobalHeader + kDspHeader * static_cast<std::uint64_t>(dsp) + kEventHeader * static_cast<std::uint64_t>(events) +
                                kSlowHeader * static_cast<std::uint64_t>(slow);
  if (headers > b.size()) return whole("byte " + std::to_string(b.size()) + ": the file ends inside its channel headers (" + std::to_string(headers) + " bytes)");

  // Gains (µV per step) as Plexon's own readers compute them, by header version.
  const unsigned spike_bits = version >= 103 ? b[202] : 12, slow_bits = version >= 103 ? b[203] : 12;
  const double spike_mv = version >= 103 ? u16_at(b, 204) : 3000.0, slow_mv = version >= 103 ? u16_at(b, 206) : 5000.0;
  const double spike_preamp = version >= 105 ? u16_at(b, 208) : 1000.0;
  std::optional<double> waveform_uv;
  bool one_gain = true;
  for (std::int32_t d = 0; d < dsp; ++d) {
    const std::int32_t gain = i32_at(b, kGlobalHeader + kDspHeader * static_cast<std::uint64_t>(d) + 80);
    one_gain = one_gain && (d == 0 || gain == i32_at(b, kGlobalHeader + 80));
  }
  if (dsp > 0 && one_gain && spike_bits > 0 && spike_bits < 32 && spike_preamp > 0 && i32_at(b, kGlobalHeader + 80) > 0)
    waveform_uv = spike_mv / std::ldexp(1.0, static_cast<int>(spike_bits) - 1) / (i32_at(b, kGlobalHeader + 80) * spike_preamp) * 1000.0;
  struct Slow {
    std::string name;
    double rate = 0;
    std::optional<double> uv;
  };
  std::map<std::int32_t, Slow> slow_by_number;
  for (std::int32_t c = 0; c < slow; ++c) {
    const std::uint64_t at = kGlobalHeader + kDspHeader * static_cast<std::uint64_t>(dsp) + kEventHeader * static_cast<std::uint64_t>(events) + kSlowHeader * static_cast<std::uint64_t>(c);
    Slow s{text_at(b, at, 32), static_cast<double>(i32_at(b, at + 36)), std::nullopt};
    const double gain = i32_at(b, at + 40), preamp = version >= 102 ? i32_at(b, at + 48) : 1000.0;
    if (gain > 0 && preamp > 0 && slow_bits > 0 && slow_bits < 32) s.uv = slow_mv / (std::ldexp(1.0, static_cast<int>(slow_bits) - 1) * gain * preamp) * 1000.0;
    slow_by_number.emplace(i32_at(b, at + 32), std::move(s));
  }

  // Walk the blocks: each a record of one channel (the waveforms, or a slow channel by number).
  struct Block {
    bool spike = false;
    std::int32_t slow_channel = 0;
    std::uint32_t samples = 0;
  };
  std::vector<Block> blocks;
  std::vector<std::int32_t> slow_numbers;  // continuous channels with samples, ascending
  bool any_spike_samples = false;
  std::uint64_t at = headers;
  for (; at + kBlockHeader <= b.size(); ) {
    const std::int16_t type = i16_at(b, at), waveforms = i16_at(b, at + 12), words = i16_at(b, at + 14);
    const bool known = type == kSpikeBlock || type == kEventBlock || type == kContinuousBlock;
    if (!known || waveforms < 0 || words < 0) {
      note("warning: " + name + ": byte " + std::to_string(at) + ": a data block of type " + std::to_string(type) + " with " + std::to_string(waveforms) +
           " x " + std::to_string(words) + " samples; it and the rest of the file are kept byte for byte");
      break;
    }
    const std::uint32_t samples = static_cast<std::uint32_t>(waveforms) * static_cast<std::uint32_t>(words);
    if (at + kBlockHeader + 2ull * samples > b.size()) {
      note("warning: " + name + ": the data block at byte " + std::to_string(at) + " holds " + std::to_string(samples) + " samples but the file ends after " +
           std::to_string((b.size() - at - kBlockHeader) / 2) + " (a recording that stopped?): kept byte for byte");
      break;
    }
    Block block{type == kSpikeBlock, i16_at(b, at + 8), type == kEventBlock ? 0u : samples};
    if (type == kEventBlock && samples != 0) {
      note("warning: " + name + ": byte " + std::to_string(at) + ": an event block holds samples; it and the rest of the file are kept byte for byte");
      break;
    }
    any_spike_samples = any_spike_samples || (block.spike && samples > 0);
    if (type == kContinuousBlock && samples > 0 && std::find(slow_numbers.begin(), slow_numbers.end(), block.slow_channel) == slow_numbers.end())
      slow_numbers.push_back(block.slow_channel);
    blocks.push_back(block);
    at += kBlockHeader + 2ull * samples;
  }
  std::sort(slow_numbers.begin(), slow_numbers.end());
  if (at < b.size() && at + kBlockHeader > b.size())
    note("warning: " + name + ": " + std::to_string(b.size() - at) + " bytes after the last whole data block (a recording that stopped?): kept byte for byte");

  // Channels: the waveforms first, then the slow channels by number.
  const std::uint32_t first_slow = any_spike_samples ? 1 : 0;
  src.channel_count = first_slow + static_cast<std::uint32_t>(slow_numbers.size());
  if (src.channel_count == 0) return src;  // no samples: open_record_file keeps it as a side file
  const double waveform_rate = i32_at(b, 188) > 0 ? i32_at(b, 188) : i32_at(b, 136) > 0 ? i32_at(b, 136) : 40000.0;
  if (any_spike_samples) {
    src.labels.push_back({"waveforms", waveform_uv, waveform_uv ? "uV" : "", false});
    src.channel_rates.push_back(waveform_rate);
    src.snippet_channels.push_back(true);
  }
  for (const std::int32_t number : slow_numbers) {
    const auto it = slow_by_number.find(number);
    const bool named = it != slow_by_number.end() && !it->second.name.empty();
    const double rate = it != slow_by_number.end() && it->second.rate > 0 ? it->second.rate : waveform_rate;
    const std::optional<double> uv = it != slow_by_number.end() ? it->second.uv : std::nullopt;
    src.labels.push_back({named ? it->second.name : "slow" + std::to_string(number), uv, uv ? "uV" : "", false});
    src.channel_rates.push_back(rate);
    src.snippet_channels.push_back(false);
  }
  src.data_offset = headers;
  src.records.header = kBlockHeader;
  src.records.fields = {{4, 4}};  // the timestamp's low 32 bits
  for (const Block& block : blocks) {
    const auto slow_index = std::lower_bound(slow_numbers.begin(), slow_numbers.end(), block.slow_channel) - slow_numbers.begin();
    src.table.channels.push_back(block.spike || block.samples == 0 ? 0 : first_slow + static_cast<std::uint32_t>(slow_index));
    src.table.lengths.push_back(block.samples);
  }
  src.index_channel_records();
  // The source's rate: its first time series' (the waveforms have no time axis); a channel at
  // another rate carries its own (SPEC §4.3, version 16).
  src.sample_rate = src.channel_count > first_slow ? src.channel_rates[first_slow] : waveform_rate;
  return src;
}

}  // namespace spikey::host
