// AlphaOmega .mpx (AlphaRS, AlphaLab SnR: map version 4) and .map (AlphaMap: map versions 2, 3)
// files, as the AlphaRS manual's file-format chapter describes them. Little-endian throughout.
//
//   blocks, one after another from byte 0, each: u16 length (of the whole block), u8 type, then
//     its body; a block of length 65535 ends the file's blocks
//   'h' (first, 60 bytes): at 40 u8 the map version
//   '2' a channel's definition: 8 i16 is analog, 10 i16 is input, 12 i16 channel number; analog
//     inputs: 18 i16 mode (0 continuous, 1 segmented: spike waveforms), 20 f32 amplitude, 24
//     f32 rate in kHz; the name (NUL-terminated) from 38 (continuous) or 48 (segmented) to the
//     block's end
//   '5' a channel's data: 3 u8 unit, 4 i16 channel number; an analog channel's: from 6 int16
//     samples, (length - 10) / 2 of them, then u32 the number of the first (digital channels and
//     ports hold events)
//   other types (ports, stream data 'E', digital and event definitions) are kept as they are
//
// Every data block of an analog input with samples is a record of its channel (SPEC §4.2,
// version 18: header its 6 bytes, trailer the u32 sample number, a field); the blocks between
// two such blocks are the first's tail, and everything before the first the prefix. Segmented
// channels (spike waveforms) are channels of snippets. The file's amplitude and gain fields
// have no public definition, so no gain is given.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "byte_fields.hpp"
#include "spikey/host/acquisition.hpp"

namespace spikey::host {

namespace {

constexpr std::uint64_t kAoBlockHead = 3, kAoHeaderBlock = 60, kAoDataHead = 6, kAoDataTrailer = 4;
constexpr std::uint16_t kAoEndOfBlocks = 65535;

struct AoAnalogChannel {
  std::string name;
  double rate = 0;
  bool segmented = false;
  std::uint32_t index = 0;  // of the source, when it has samples
  bool has_samples = false;
};

}  // namespace

bool is_alpha_omega_file(const std::filesystem::path& file) {
  if (!has_extension(file, ".mpx") && !has_extension(file, ".map")) return false;
  std::ifstream in(file, std::ios::binary);
  unsigned char head[3] = {};
  return in.read(reinterpret_cast<char*>(head), 3) && head[0] == kAoHeaderBlock && head[1] == 0 && head[2] == 'h';
}

InputSource open_alpha_omega_file(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note) {
  InputSource src{file, restore_path, format::SourceKind::alpha_omega, MappedFile(file)};
  const auto b = src.map.bytes();
  const std::string name = file.string();
  if (b.size() < kAoHeaderBlock) {
    note(name + ": shorter than an AlphaOmega file header (60 bytes); kept whole as a side file");
    return open_side_file(file, restore_path);
  }

  // Each analog input's data blocks, in file order; `channel` holds the channel number until the
  // channels are counted.
  std::vector<ChannelRun> runs;
  std::map<std::int16_t, AoAnalogChannel> analog;  // by channel number
  std::vector<std::int16_t> defined;               // channel numbers in the order of their definitions
  std::uint64_t at = 0;
  while (at + kAoBlockHead <= b.size()) {
    const std::uint16_t length = u16_at(b, at);
    const std::uint8_t type = b[at + 2];
    if (length == kAoEndOfBlocks) break;
    if (length < kAoBlockHead || at + length > b.size()) {
      note("warning: " + name + ": byte " + std::to_string(at) + ": a block of " + std::to_string(length) + " bytes" +
           (length < kAoBlockHead ? "" : " where " + std::to_string(b.size() - at) + " remain (a copy cut short?)") +
           "; it and the rest of the file are kept byte for byte");
      break;
    }
    if (type == '2' && length >= 38 && i16_at(b, at + 8) == 1 && i16_at(b, at + 10) == 1) {
      const std::int16_t number = i16_at(b, at + 12), mode = i16_at(b, at + 18);
      const std::uint64_t name_at = mode == 0 ? 38 : 48;
      double rate = f32_at(b, at + 24) * 1000.0;
      if (std::abs(rate - std::round(rate)) < 1e-6 * rate) rate = std::round(rate);  // a kHz float: 0.9375 is exact, 22.321 is not
      if ((mode == 0 || mode == 1) && length >= name_at && rate > 0 && std::isfinite(rate) && !analog.contains(number)) {
        AoAnalogChannel c;
        c.name = text_at(b, at + name_at, length - name_at);
        c.rate = rate;
        c.segmented = mode == 1;
        analog.emplace(number, std::move(c));
        defined.push_back(number);
      }
    } else if (type == '5' && length >= kAoDataHead + kAoDataTrailer + 2 && (length - kAoDataHead - kAoDataTrailer) % 2 == 0) {
      const auto it = analog.find(i16_at(b, at + 4));
      if (it != analog.end()) {
        it->second.has_samples = true;
        runs.push_back({at, static_cast<std::uint32_t>((length - kAoDataHead - kAoDataTrailer) / 2),
                        static_cast<std::uint32_t>(static_cast<std::uint16_t>(it->first))});
      }
    }
    at += length;
  }
  if (runs.empty()) return src;  // no samples: open_record_file keeps it as a side file

  // The channels with samples, in the order the file defines them.
  for (const std::int16_t number : defined) {
    AoAnalogChannel& c = analog.at(number);
    if (!c.has_samples) continue;
    c.index = src.channel_count++;
    src.labels.push_back({c.name.empty() ? "ch" + std::to_string(number) : c.name, std::nullopt, "", false});
    src.channel_rates.push_back(c.rate);
    src.snippet_channels.push_back(c.segmented);
  }
  // The data blocks are the records; the blocks between them their tails.
  src.records.header = kAoDataHead;
  src.records.trailer = kAoDataTrailer;
  src.records.fields = {{kAoDataHead, 4}};  // the first sample's number
  for (ChannelRun& run : runs) run.channel = analog.at(static_cast<std::int16_t>(run.channel)).index;
  std::uint64_t far = 0;
  if (!set_records_with_tails(src, runs, far)) {
    note(name + ": byte " + std::to_string(far) + ": over 4 GiB between two data blocks; kept whole as a side file");
    return open_side_file(file, restore_path);
  }
  return src;
}

}  // namespace spikey::host
