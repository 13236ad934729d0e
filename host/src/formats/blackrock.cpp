// Blackrock continuous files (.ns1-.ns6), as Central writes them (Blackrock Microsystems, "NEV
// and NSx File Specification", revisions 2.1, 2.2/2.3 and 3.0). Little-endian throughout.
//
// File spec 2.1 ("NEURALSG"):
//   0    char[8]   "NEURALSG"
//   8    char[16]  label
//   24   u32       period: 30 kHz clock ticks per sample (rate = 30000 / period)
//   28   u32       channel count C
//   32   u32[C]    channel IDs
//   then int16 frames of C samples to the end of the file
// File spec 2.2, 2.3, 3.0 ("NEURALCD"):
//   0    char[8]   "NEURALCD"
//   8    u8, u8    major, minor revision
//   10   u32       bytes in headers (basic and extended): where the data packets start
//   14   char[16]  label
//   30   char[256] comment
//   286  u32       period (30 kHz ticks per sample)
//   290  u32       timestamp resolution (Hz)
//   294  u16[8]    time origin (Windows SYSTEMTIME)
//   310  u32       channel count C
//   314  C extended headers of 66 bytes:
//        0 char[2] "CC", 2 u16 electrode ID, 4 char[16] label, 20 u8 connector, 21 u8 pin,
//        22 i16 min digital, 24 i16 max digital, 26 i16 min analog, 28 i16 max analog,
//        30 char[16] units, 46 u32 high corner, 50 u32 high order, 54 u16 high type,
//        56 u32 low corner, 60 u32 low order, 64 u16 low type
//   data packets: u8 header (1), timestamp (u32; u64 from 3.0), u32 data points N, then N
//   int16 frames of C samples. A pause in the recording starts a new packet.
//
// Event files (.nev, "NEURALEV"; file specs 2.1 to 3.0):
//   0    char[8]   "NEURALEV"
//   8    u8, u8    major, minor revision
//   12   u32       bytes in headers (basic and extended): where the data packets start
//   16   u32       bytes per data packet P
//   20   u32       timestamp resolution (Hz)
//   24   u32       sample resolution (Hz): the waveforms' sampling rate
//   332  u32       extended header count; 336: the extended headers, 32 bytes each:
//        0 char[8] type; "NEUEVWAV": 8 u16 electrode ID, 10 u8 connector, 11 u8 pin,
//        12 u16 digitization factor (nV per step), 14 u16 energy threshold, 16 i16 high
//        threshold, 18 i16 low threshold, 20 u8 sorted units, 21 u8 bytes per waveform sample
//   data packets of P bytes: timestamp (u32; u64 from 3.0), u16 packet ID; a spike (ID 1 ..
//   2048): u8 unit, u8 reserved, then its waveform; other IDs (digital input, comments,
//   tracking, ...) other contents of the same size.
//
// Samples become channels (SPEC.md §4.2). One packet: its frames, with everything before them
// the prefix. Several packets of the same length (3.0's one-frame packets): records, each
// packet's header the framing, its timestamp a field. Packets of different lengths (a paused
// recording): records of those lengths, the same framing. Empty packets among several: the first
// packet's frames, the later packets kept verbatim after them, with a note.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "byte_fields.hpp"
#include "spikey/host/acquisition.hpp"

namespace spikey::host {

bool is_blackrock_nev(const std::filesystem::path& file) {
  if (!has_extension(file, ".nev")) return false;  // Neuralynx writes .nev files too: the magic tells them apart
  std::ifstream in(file, std::ios::binary);
  char magic[8] = {};
  return in.read(magic, sizeof magic) && std::memcmp(magic, "NEURALEV", sizeof magic) == 0;
}

InputSource open_blackrock_nev(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note) {
  InputSource src{file, restore_path, format::SourceKind::blackrock, MappedFile(file)};
  const auto b = src.map.bytes();
  const std::string name = file.string();
  // The file was archived whole before its waveforms were compressed (SPEC §4.1): one it cannot
  // read as spike waveforms still is.
  const auto whole = [&](const std::string& why) {
    note(name + ": " + why + "; kept whole as a side file");
    return open_side_file(file, restore_path);
  };
  constexpr std::uint64_t kBasicHeader = 336, kExtendedHeader = 32;
  if (b.size() < kBasicHeader) return whole("shorter than a NEV basic header (336 bytes)");
  const unsigned major = b[8];
  const std::uint64_t headers = u32_at(b, 12), packet = u32_at(b, 16), extended = u32_at(b, 332);
  const std::uint64_t packet_header = major >= 3 ? 12 : 8;  // timestamp (u32; u64 from 3.0), u16 ID, u8 unit, u8 reserved
  if (headers < kBasicHeader + kExtendedHeader * extended || headers > b.size())
    return whole("byte 12: " + std::to_string(headers) + " bytes in headers do not hold the basic header and " + std::to_string(extended) + " extended headers");
  if (packet <= packet_header || (packet - packet_header) % 2 != 0 || packet > (1u << 20))
    return whole("byte 16: data packets of " + std::to_string(packet) + " bytes hold no 16-bit waveform");
  std::uint64_t waveform_headers = 0, nanovolts = 0;
  bool one_factor = true;
  for (std::uint64_t e = 0; e < extended; ++e) {
    const std::uint64_t at = kBasicHeader + kExtendedHeader * e;
    if (std::memcmp(b.data() + at, "NEUEVWAV", 8) != 0) continue;
    if (b[at + 21] != 2) return whole("byte " + std::to_string(at + 21) + ": electrode " + std::to_string(u16_at(b, at + 8)) + "'s waveforms are not 16-bit");
    const std::uint16_t factor = u16_at(b, at + 12);
    one_factor = one_factor && (waveform_headers == 0 || factor == nanovolts);
    nanovolts = factor;
    ++waveform_headers;
  }
  if (waveform_headers == 0) return whole("no NEUEVWAV extended header declares its waveforms' sample size");
  const std::uint64_t count = (b.size() - headers) / packet;
  if (count == 0) return whole("no data packet after the headers");
  src.channel_count = 1;
  src.data_offset = headers;  // a partial last packet stays in the suffix
  src.records.count = count;
  src.records.header = static_cast<std::uint32_t>(packet_header);
  src.records.frames = static_cast<std::uint32_t>((packet - packet_header) / 2);
  src.records.fields = {{0, major >= 3 ? 8u : 4u}};  // the timestamp
  src.frames = count * src.records.frames;
  src.snippets = true;
  const std::uint32_t rate = u32_at(b, 24);
  src.sample_rate = rate != 0 ? rate : 30000.0;
  ChannelLabel label{"waveforms", std::nullopt, "", false};
  if (one_factor && nanovolts != 0) label.bit_volts = static_cast<double>(nanovolts) / 1000.0, label.units = "uV";
  src.labels = {std::move(label)};
  return src;
}

bool is_blackrock_nsx(const std::filesystem::path& file) {
  for (const char* ext : {".ns1", ".ns2", ".ns3", ".ns4", ".ns5", ".ns6"})
    if (has_extension(file, ext)) return true;
  return false;
}

InputSource open_blackrock_nsx(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note) {
  InputSource src{file, std::move(restore_path), format::SourceKind::blackrock, MappedFile(file)};
  const auto b = src.map.bytes();
  const std::string name = file.string();
  const auto need = [&](std::uint64_t end, const std::string& what) {
    if (b.size() < end)
      throw InputError(name + ": byte " + std::to_string(b.size()) + ": the file ends inside " + what + " (needs " + std::to_string(end) +
                       " bytes): truncated?");
  };
  need(8, "the file type");
  const std::string type(reinterpret_cast<const char*>(b.data()), 8);
  std::uint32_t period = 0, channels = 0;
  std::vector<ChannelLabel> labels;
  if (type == "NEURALSG") {  // 2.1
    need(32, "the 2.1 header");
    period = u32_at(b, 24);
    channels = u32_at(b, 28);
    if (channels == 0 || channels > 65535) throw InputError(name + ": byte 28: channel count " + std::to_string(channels) + " is not 1 to 65535");
    need(32 + 4ull * channels, "the channel IDs");
    for (std::uint32_t c = 0; c < channels; ++c) labels.push_back({"ch" + std::to_string(u32_at(b, 32 + 4ull * c)), std::nullopt, "", false});  // not a bare number, which --channels reads as an index
    src.data_offset = 32 + 4ull * channels;
    src.frames = (b.size() - src.data_offset) / (2ull * channels);  // a partial last frame stays verbatim
  } else if (type == "NEURALCD") {  // 2.2, 2.3, 3.0
    need(314, "the basic header");
    const unsigned major = b[8];
    const std::uint64_t headers = u32_at(b, 10);
    period = u32_at(b, 286);
    channels = u32_at(b, 310);
    if (channels == 0 || channels > 65535) throw InputError(name + ": byte 310: channel count " + std::to_string(channels) + " is not 1 to 65535");
    if (headers != 314 + 66ull * channels)
      throw InputError(name + ": byte 10: " + std::to_string(headers) + " bytes in headers, but " + std::to_string(channels) +
                       " channels give " + std::to_string(314 + 66ull * channels));
    need(headers, "the extended headers");
    for (std::uint32_t c = 0; c < channels; ++c) {
      const std::uint64_t at = 314 + 66ull * c;
      if (b[at] != 'C' || b[at + 1] != 'C') throw InputError(name + ": byte " + std::to_string(at) + ": extended header " + std::to_string(c) + " is not \"CC\"");
      ChannelLabel label{text_at(b, at + 4, 16), std::nullopt, text_at(b, at + 30, 16), false};
      const double digital = static_cast<double>(i16_at(b, at + 24)) - i16_at(b, at + 22);
      const double analog = static_cast<double>(i16_at(b, at + 28)) - i16_at(b, at + 26);
      if (digital > 0 && analog > 0) label.bit_volts = analog / digital;
      if (label.units.empty()) label.bit_volts.reset();
      labels.push_back(std::move(label));
    }
    const std::uint64_t packet_header = major >= 3 ? 13 : 9;  // u8 header, timestamp (u32 or u64), u32 data points
    const std::uint64_t frame_bytes = 2ull * channels;
    // Walk the packets: their offsets and lengths.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> packets;  // {offset, data points}
    std::uint64_t at = headers;
    while (at + packet_header <= b.size()) {
      if (b[at] != 1) throw InputError(name + ": byte " + std::to_string(at) + ": a data packet starts with " + std::to_string(b[at]) + ", not 1");
      const std::uint64_t points = u32_at(b, at + packet_header - 4);
      const std::uint64_t room = (b.size() - at - packet_header) / frame_bytes;
      packets.emplace_back(at, std::min(points, room));
      if (points > room) {  // a packet cut short: an acquisition that stopped
        note("warning: " + name + ": the data packet at byte " + std::to_string(at) + " declares " + std::to_string(points) +
             " data points but the file holds " + std::to_string(room) + "; the rest is kept byte for byte");
        break;
      }
      at += packet_header + points * frame_bytes;
    }
    if (packets.empty()) throw InputError(name + ": byte " + std::to_string(headers) + ": no data packet after the headers");
    while (packets.size() > 1 && packets.back().second == 0) packets.pop_back();  // an empty last packet: part of the suffix
    if (packets.size() == 1 || std::any_of(packets.begin(), packets.end(), [](const auto& p) { return p.second == 0; })) {
      src.data_offset = packets.front().first + packet_header;
      src.frames = packets.front().second;
      if (packets.size() > 1)
        note(name + ": " + std::to_string(packets.size()) + " data packets, some of them empty; the samples of the first (" +
             std::to_string(src.frames) + " frames) are compressed, the later packets kept byte for byte");
    } else {  // records: of one length (3.0's one-frame packets) or, a paused recording, of their own lengths
      src.data_offset = packets.front().first;
      src.records.count = packets.size();
      src.records.header = static_cast<std::uint32_t>(packet_header);
      src.records.fields = {{1, major >= 3 ? 8u : 4u}};  // the timestamp
      const bool equal = std::all_of(packets.begin(), packets.end(), [&](const auto& p) { return p.second == packets.front().second; });
      if (equal) src.records.frames = static_cast<std::uint32_t>(packets.front().second);  // a u32 count in the file
      for (const auto& packet : packets) {
        src.frames += packet.second;
        if (!equal) src.records.ends.push_back(src.frames);
      }
    }
  } else {
    throw InputError(name + ": byte 0: file type \"" + text_at(b, 0, 8) + "\" is not NEURALSG or NEURALCD; not a Blackrock NSx file");
  }
  if (period == 0) throw InputError(name + ": the period (30 kHz ticks per sample) is 0");
  src.channel_count = channels;
  src.sample_rate = 30000.0 / period;
  src.labels = std::move(labels);
  return src;
}

}  // namespace spikey::host
