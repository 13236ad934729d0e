// Intan traditional data files: one .rhd (RHD recording controller, USB interface board) or
// .rhs (RHS stimulation controller) file holding the header (formats/intan_header.hpp) and
// then data blocks (Intan Technologies, "RHD data file formats" and "RHS data file formats").
// A block holds N frames (RHD: 60 before version 2.0, else 128; RHS: 128), each signal's
// channels one after another, each channel's N samples together (little-endian):
//
//   RHD block                                      RHS block
//   i32[N]        timestamps (sample numbers)      i32[N]        timestamps
//   u16[A][N]     amplifier channels               u16[A][N]     amplifier channels
//   u16[X][N/4]   auxiliary inputs (1/4 rate)      u16[A][N]     DC amplifier (if saved)
//   u16[S]        supply voltages (one a block)    u16[A][N]     stimulation words
//   i16[T]        temperature sensors (one)        u16[D][N]     board ADC
//   u16[D][N]     board ADC                        u16[C][N]     board DAC
//   u16[N]        digital inputs (if any enabled)  u16[N]        digital inputs (if any)
//   u16[N]        digital outputs (if any)         u16[N]        digital outputs (if any)
//
// The full-rate signals become the source's channels (SPEC.md §4.2, planar records,
// sample_format uint16): amplifiers in µV, ADC and DAC inputs, digital and stimulation words as
// sync channels. The timestamps are the record header, each a field stored as its difference
// from the block before; the auxiliary, supply and temperature samples between the amplifier and
// ADC channels are a gap of framing kept verbatim. A partial last block (a recording that
// stopped) stays after the blocks, with a warning; a file of the header alone is a side file.
#include "formats/intan_header.hpp"
#include "spikey/host/acquisition.hpp"

namespace spikey::host {

bool is_intan_file(const std::filesystem::path& file) {
  return (has_extension(file, ".rhd") || has_extension(file, ".rhs")) && file.filename() != "info.rhd";
}

InputSource open_intan_file(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note) {
  InputSource src{file, std::move(restore_path), format::SourceKind::intan, MappedFile(file)};
  const auto bytes = src.map.bytes();
  const std::string name = file.string();
  const intan::Header h = intan::read_header(bytes, name);
  if (h.rhs != has_extension(file, ".rhs"))
    throw InputError(name + ": byte 0: an " + (h.rhs ? "RHS" : "RHD") + " header in a file named ." + (h.rhs ? "rhd" : "rhs"));
  using intan::Signal;
  const std::uint32_t n = h.rhs || h.major > 1 ? 128 : 60;  // frames per block
  const std::size_t amplifiers = h.count(Signal::amplifier);
  std::vector<ChannelLabel> labels;
  const auto add = [&](Signal type, const std::string& suffix = {}) {
    for (const auto& c : h.enabled) {
      if (c.type != type) continue;
      ChannelLabel label;
      label.name = c.name + suffix;
      label.bit_volts = intan::microvolts_per_step(type, h);
      if (label.bit_volts) label.units = "uV";
      labels.push_back(std::move(label));
    }
  };
  const auto add_word = [&](Signal type, const char* word) {  // all enabled lines as one word
    if (h.count(type) == 0) return;
    ChannelLabel label;
    label.name = word;
    label.sync = true;
    labels.push_back(std::move(label));
  };
  std::uint64_t gap = 0;  // RHD: auxiliary, supply and temperature samples after the amplifiers
  add(Signal::amplifier);
  if (h.rhs) {
    if (h.dc_amplifier_saved) {
      add(Signal::amplifier, ":DC");
      for (std::size_t i = amplifiers; i < 2 * amplifiers; ++i) labels[i].bit_volts = -19230.0;  // -0.01923 V per step about 512
    }
    for (const auto& c : h.enabled)
      if (c.type == Signal::amplifier) labels.push_back({c.name + ":STIM", std::nullopt, "", true});
    add(Signal::adc);
    add(Signal::dac);
  } else {
    gap = 2 * (h.count(Signal::auxiliary) * (n / 4) + h.count(Signal::supply) + static_cast<std::uint64_t>(h.temperature_sensors));
    add(Signal::adc);
  }
  add_word(Signal::digital_in, "DIGITAL-IN");
  add_word(Signal::digital_out, "DIGITAL-OUT");

  const std::uint32_t k = static_cast<std::uint32_t>(labels.size());
  format::SourceRecords records;
  records.frames = n;
  records.header = 4 * n;
  for (std::uint32_t i = 0; i < n; ++i) records.fields.push_back({4 * i, 4});  // the timestamps
  if (gap > 0) {
    if (amplifiers == 0)
      records.header += static_cast<std::uint32_t>(gap);
    else if (amplifiers == k)
      records.trailer = static_cast<std::uint32_t>(gap);
    else
      records.gaps = {{static_cast<std::uint32_t>(amplifiers), static_cast<std::uint32_t>(gap)}};
  }
  records.planar = true;
  const std::uint64_t block = records.record_bytes(k);
  const std::uint64_t blocks = (bytes.size() - h.size) / block, partial = (bytes.size() - h.size) % block;
  if (k == 0 || blocks == 0) {  // no frames: the caller keeps the file as a side file
    if (k > 0 && bytes.size() > h.size)
      note("warning: " + name + ": " + std::to_string(bytes.size() - h.size) + " byte(s) after the header, less than a data block of " +
           std::to_string(block) + " bytes");
    return src;
  }
  if (partial != 0)
    note("warning: " + name + ": the last data block is partial (" + std::to_string(partial) + " of " + std::to_string(block) + " bytes from byte " +
         std::to_string(h.size + blocks * block) + "; a recording that stopped?): kept byte for byte, not as samples");
  records.count = blocks;
  src.channel_count = k;
  src.data_offset = h.size;
  src.frames = blocks * n;
  src.sample_rate = h.sample_rate;
  src.unsigned_samples = true;
  src.records = std::move(records);
  src.labels = std::move(labels);
  return src;
}

}  // namespace spikey::host
