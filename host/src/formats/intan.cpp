// Intan RHD recordings saved by the RHX / RHD software as a folder (Intan Technologies, "RHD
// data file formats", application note; RHX user guide, "Data file formats"):
//   info.rhd   the RHD header alone (below); kept whole
//   time.dat   int32 sample numbers, one per frame
//   "one file per channel":      amp-<port>-<nnn>.dat (int16), aux-<port>-AUX<n>.dat,
//                                vdd-<port>-VDD<n>.dat, board-ANALOG-IN-<n>.dat / board-ADC-<nn>.dat
//                                (uint16), board-DIGITAL-IN-<nn>.dat / -OUT- / board-DIN-, -DOUT-
//                                (uint16, 0 or 1)
//   "one file per signal type":  amplifier.dat (int16), auxiliary.dat, supply.dat, analogin.dat
//                                (uint16), digitalin.dat, digitalout.dat (uint16 words), each
//                                interleaved over the enabled channels of its signal type
// RHD header (little-endian; QString = u32 byte count, 0xffffffff for none, then UTF-16LE):
//   u32 magic 0xc6912702; i16 major, minor; f32 sample rate; i16 DSP enabled; f32 x 6 bandwidths;
//   i16 notch mode; f32 x 2 impedance test frequencies; QString x 3 notes; (>= 1.1) i16
//   temperature sensors; (>= 1.3) i16 board mode; (>= 2.0) QString reference channel; i16 signal
//   groups, each: QString name, QString prefix, i16 enabled, i16 channels, i16 amplifier
//   channels, then per channel: QString native name, QString custom name, i16 native order,
//   i16 custom order, i16 signal type (0 amplifier, 1 auxiliary, 2 supply, 3 board ADC, 4
//   digital in, 5 digital out), i16 enabled, i16 chip channel, i16 board stream, i16 x 4 trigger
//   settings, f32 x 2 impedance.
// Each .dat of samples becomes a source (SPEC.md §4.2; uint16 files as sample_format uint16),
// with its channels' names and gains from the header; digital words are sync channels (runs).
// time.dat becomes a source of two channels, the low and high 16 bits of each sample number
// (the high half as runs), so that hours of sample numbers cost almost nothing; their units are
// "samples" (1 and 65536 per step), which tells readers they are not signals.
#include <cmath>
#include <cstring>
#include <map>

#include "spikey/host/acquisition.hpp"

namespace spikey::host {

namespace {

constexpr std::uint32_t kRhdMagic = 0xc6912702u;

struct IntanChannel {
  std::string name;  // native name, e.g. A-000
  int type = 0;
};

struct IntanHeader {
  double sample_rate = 0;
  int board_mode = 0;
  std::vector<IntanChannel> enabled;  // in header order
};

class HeaderReader {
 public:
  HeaderReader(std::span<const std::uint8_t> b, std::string name) : b_(b), name_(std::move(name)) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, b_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  std::string qstring() {
    const std::uint64_t start = at_;
    const std::uint32_t bytes = get<std::uint32_t>();
    if (bytes == 0xffffffffu) return {};
    if (bytes % 2 != 0) throw InputError(name_ + ": byte " + std::to_string(start) + ": a header string of an odd " + std::to_string(bytes) + " bytes");
    need(bytes);
    std::string out;
    for (std::uint32_t i = 0; i < bytes; i += 2) {
      const unsigned c = b_[at_ + i] | (b_[at_ + i + 1] << 8);
      out.push_back(c < 128 ? static_cast<char>(c) : '?');
    }
    at_ += bytes;
    return out;
  }
  std::uint64_t at() const { return at_; }

 private:
  void need(std::uint64_t n) {
    if (b_.size() - at_ < n) throw InputError(name_ + ": byte " + std::to_string(b_.size()) + ": the RHD header ends early (truncated?)");
  }
  std::span<const std::uint8_t> b_;
  std::string name_;
  std::uint64_t at_ = 0;
};

IntanHeader read_rhd_header(const std::filesystem::path& file) {
  const MappedFile map(file);
  HeaderReader r(map.bytes(), file.string());
  if (map.size() < 4 || r.get<std::uint32_t>() != kRhdMagic)
    throw InputError(file.string() + ": byte 0: no RHD magic number (0xc6912702); not an Intan .rhd header");
  const int major = r.get<std::int16_t>(), minor = r.get<std::int16_t>();
  IntanHeader h;
  h.sample_rate = r.get<float>();
  r.get<std::int16_t>();
  for (int i = 0; i < 6; ++i) r.get<float>();
  r.get<std::int16_t>();
  r.get<float>(), r.get<float>();
  for (int i = 0; i < 3; ++i) r.qstring();
  if (major > 1 || minor >= 1) r.get<std::int16_t>();
  if (major > 1 || minor >= 3) h.board_mode = r.get<std::int16_t>();
  if (major > 1) r.qstring();
  const int groups = r.get<std::int16_t>();
  for (int g = 0; g < groups; ++g) {
    r.qstring(), r.qstring();
    const int enabled = r.get<std::int16_t>(), channels = r.get<std::int16_t>();
    r.get<std::int16_t>();
    if (enabled == 0 || channels <= 0) continue;
    for (int c = 0; c < channels; ++c) {
      IntanChannel ch;
      ch.name = r.qstring();
      r.qstring();
      r.get<std::int16_t>(), r.get<std::int16_t>();
      ch.type = r.get<std::int16_t>();
      const int channel_enabled = r.get<std::int16_t>();
      for (int i = 0; i < 6; ++i) r.get<std::int16_t>();
      r.get<float>(), r.get<float>();
      if (channel_enabled != 0) h.enabled.push_back(std::move(ch));
    }
  }
  if (!(h.sample_rate > 0) || !std::isfinite(h.sample_rate)) throw InputError(file.string() + ": byte 8: the sample rate is not a positive number");
  return h;
}

// µV per step of each signal type (the application note's scaling); none for digital words.
std::optional<double> microvolts_per_step(int type, int board_mode) {
  switch (type) {
    case 0: return 0.195;
    case 1: return 37.4;
    case 2: return 74.8;
    case 3: return board_mode == 1 ? 152.59 : board_mode == 13 ? 312.5 : 50.354;
    default: return std::nullopt;
  }
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// The signal type of a one-file-per-channel file, from its name; -1 for other files.
int per_channel_type(const std::string& file) {
  if (starts_with(file, "amp-")) return 0;
  if (starts_with(file, "aux-")) return 1;
  if (starts_with(file, "vdd-")) return 2;
  if (starts_with(file, "board-ANALOG-IN-") || starts_with(file, "board-ADC-")) return 3;
  if (starts_with(file, "board-DIGITAL-IN-") || starts_with(file, "board-DIN-")) return 4;
  if (starts_with(file, "board-DIGITAL-OUT-") || starts_with(file, "board-DOUT-")) return 5;
  return -1;
}

const std::map<std::string, int> kPerTypeFiles = {{"amplifier.dat", 0}, {"auxiliary.dat", 1}, {"supply.dat", 2},
                                                  {"analogin.dat", 3},  {"digitalin.dat", 4}, {"digitalout.dat", 5}};

}  // namespace

bool is_intan_folder_file(const std::filesystem::path& file) { return file.filename() == "info.rhd"; }

std::vector<InputSource> open_intan_folder(const std::filesystem::path& info, const std::vector<std::pair<std::string, std::filesystem::path>>& files,
                                           const std::string& folder_prefix, const std::function<void(const std::string&)>& note) {
  const IntanHeader header = read_rhd_header(info);
  const std::filesystem::path dir = info.parent_path();
  const std::filesystem::path time = dir / "time.dat";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(time, ec))
    throw InputError(dir.string() + ": an Intan folder (info.rhd) without its time.dat");
  const std::uint64_t frames = std::filesystem::file_size(time) / 4;
  if (frames == 0) throw InputError(time.string() + ": no sample numbers");
  std::vector<InputSource> out;
  // One source per sample file of this folder (not its subfolders), in the caller's order.
  for (const auto& [relative, path] : files) {
    if (path.parent_path() != dir) continue;
    const std::string base = path.filename().string();
    std::vector<IntanChannel> channels;
    if (base == "time.dat") {
      channels = {{"time_low16", -1}, {"time_high16", -2}};
    } else if (const int type = per_channel_type(base); type >= 0 && has_extension(path, ".dat")) {
      const std::string stem = base.substr(0, base.size() - 4);
      channels = {{stem.substr(starts_with(stem, "board-") ? 6 : stem.find('-') + 1), type}};
    } else if (const auto it = kPerTypeFiles.find(base); it != kPerTypeFiles.end()) {
      for (const auto& c : header.enabled)
        if (c.type == it->second) channels.push_back(c);
      if (it->second >= 4) channels = {{it->second == 4 ? "DIGITAL-IN" : "DIGITAL-OUT", it->second}};  // one word of all lines
      if (channels.empty()) {
        note(path.string() + ": info.rhd enables no channel of its signal type; kept whole as a side file");
        continue;
      }
    } else {
      continue;
    }
    InputSource src = open_interleaved_int16(path, folder_prefix + relative, format::SourceKind::intan, static_cast<std::uint32_t>(channels.size()),
                                             header.sample_rate);
    const std::uint64_t bytes = src.map.size();
    if (bytes % (2ull * channels.size()) != 0 || src.frames == 0) {
      note(path.string() + ": " + std::to_string(bytes) + " bytes are not whole frames of " + std::to_string(channels.size()) +
           " channel(s); kept whole as a side file");
      continue;
    }
    // Auxiliary inputs may be saved at a quarter of the rate: each file's rate follows from its
    // length against time.dat's.
    src.sample_rate = header.sample_rate * static_cast<double>(src.frames) / static_cast<double>(frames);
    src.unsigned_samples = channels.front().type > 0;
    for (const auto& c : channels) {
      ChannelLabel label;
      label.name = c.name;
      label.bit_volts = microvolts_per_step(c.type, header.board_mode);
      if (label.bit_volts) label.units = "uV";
      if (c.type < 0) label.bit_volts = c.type == -1 ? 1.0 : 65536.0, label.units = "samples";  // time.dat's halves count samples
      label.sync = c.type >= 4 || c.type == -2;
      src.labels.push_back(std::move(label));
    }
    out.push_back(std::move(src));
  }
  return out;
}

}  // namespace spikey::host
