// Axona DacqUSB raw recordings ("raw" mode: x.bin beside the trial's x.set), as the DacqUSB
// file-format notes and the public readers (pyxona, neo's axonarawio) describe them:
//
//   packets of 432 bytes, no file header: 0 "ADU1" (or "ADU2": a packet that also carries
//     position data), 4 u32 packet number, then to byte 32 digital inputs, sync and tracker
//     fields; 384 bytes of samples: three frames of 64 int16, each frame's channels in the
//     hardware's order (position p holds channel kAxonaChannelAt[p]); 16 bytes of keys and
//     reserved bytes
//   the .set: "key value" lines; rawRate (48000), ADC_fullscale_mv, gain_ch_<i> per channel
//
// The packets are records (SPEC §4.2: header 32, frames 3, trailer 16; the packet number a
// field), named by channel (`ch<i>`, as the .set counts them), in µV per step
// 1000 · ADC_fullscale_mv / (gain_ch_i · 2^15) when the .set gives both.
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "byte_fields.hpp"
#include "formats/text_fields.hpp"
#include "spikey/host/acquisition.hpp"

namespace spikey::host {

namespace {

constexpr std::uint64_t kAxonaPacket = 432, kAxonaHead = 32, kAxonaTail = 16;
constexpr std::uint32_t kAxonaChannels = 64, kAxonaFrames = 3;
constexpr double kAxonaRawRate = 48000;

// The channel at each position of a frame (the inverse of neo's channel_memory_offset): the
// hardware sends channels 8-15 first, then 24-31, 40-47, 56-63, 0-7, 16-23, 32-39, 48-55.
constexpr std::array<std::uint32_t, kAxonaChannels> axona_channels_by_position() {
  std::array<std::uint32_t, kAxonaChannels> at{};
  for (std::uint32_t c = 0; c < kAxonaChannels; ++c) {
    const std::uint32_t group = c / 8, odd = group % 2;
    const std::uint32_t position = (odd ? (group / 2) * 8 : 32 + (group / 2) * 8) + c % 8;
    at[position] = c;
  }
  return at;
}
constexpr auto kAxonaChannelAt = axona_channels_by_position();

bool axona_packet_magic(std::span<const std::uint8_t> b, std::uint64_t at) {
  return b[at] == 'A' && b[at + 1] == 'D' && b[at + 2] == 'U' && (b[at + 3] == '1' || b[at + 3] == '2');
}

// A positive number of the .set, when it gives one.
std::optional<double> axona_number(const TextFields& set, const std::string& key) {
  const std::optional<double> v = set.number(key);
  return v && std::isfinite(*v) && *v > 0 ? v : std::nullopt;
}

}  // namespace

bool is_axona_bin(const std::filesystem::path& file) {
  if (!has_extension(file, ".bin")) return false;
  std::ifstream in(file, std::ios::binary);
  std::uint8_t head[4] = {};
  return in.read(reinterpret_cast<char*>(head), 4) && axona_packet_magic(head, 0);
}

InputSource open_axona_bin(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note) {
  InputSource src{file, std::move(restore_path), format::SourceKind::axona, MappedFile(file)};
  const auto b = src.map.bytes();
  const std::string name = file.string();
  std::uint64_t packets = 0;
  while ((packets + 1) * kAxonaPacket <= b.size() && axona_packet_magic(b, packets * kAxonaPacket)) ++packets;
  if (packets * kAxonaPacket + kAxonaPacket <= b.size())
    note("warning: " + name + ": byte " + std::to_string(packets * kAxonaPacket) + ": packet " + std::to_string(packets) +
         " does not start with ADU1 or ADU2; it and the rest of the file are kept byte for byte");
  else if (packets * kAxonaPacket < b.size())
    note("warning: " + name + ": " + std::to_string(b.size() - packets * kAxonaPacket) + " byte(s) after its last whole packet of " +
         std::to_string(kAxonaPacket) + " (a recording cut short?): kept byte for byte");
  if (packets == 0) return src;  // no samples: open_record_file keeps it whole

  std::filesystem::path set = file;
  set.replace_extension(".set");
  TextFields fields;
  if (std::filesystem::is_regular_file(set)) {
    std::ifstream in(set, std::ios::binary);
    fields = space_key_fields(std::string(std::istreambuf_iterator<char>(in), {}));
  }
  else note(name + ": no " + set.filename().string() + " beside it; DacqUSB's raw rate of 48000 Hz taken, no gains");
  src.channel_count = kAxonaChannels;
  src.sample_rate = axona_number(fields, "rawRate").value_or(kAxonaRawRate);
  src.data_offset = 0;
  src.frames = packets * kAxonaFrames;
  src.records.count = packets;
  src.records.frames = kAxonaFrames;
  src.records.header = kAxonaHead;
  src.records.trailer = kAxonaTail;
  src.records.fields = {{4, 4}};  // the packet number
  const std::optional<double> fullscale = axona_number(fields, "ADC_fullscale_mv");
  for (std::uint32_t p = 0; p < kAxonaChannels; ++p) {
    const std::uint32_t c = kAxonaChannelAt[p];
    ChannelLabel label{"ch" + std::to_string(c), std::nullopt, "", false};
    if (const auto gain = axona_number(fields, "gain_ch_" + std::to_string(c)); gain && fullscale)
      label.bit_volts = 1000.0 * *fullscale / (*gain * 32768.0), label.units = "uV";
    src.labels.push_back(std::move(label));
  }
  return src;
}

}  // namespace spikey::host
