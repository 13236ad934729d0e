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
// info.rhd is the RHD header alone (formats/intan_header.hpp).
// Each .dat of samples becomes a source (SPEC.md §4.2; uint16 files as sample_format uint16),
// with its channels' names and gains from the header; digital words are sync channels (runs).
// time.dat becomes a source of two channels, the low and high 16 bits of each sample number
// (the high half as runs), so that hours of sample numbers cost almost nothing; their units are
// "samples" (1 and 65536 per step), which tells readers they are not signals.
#include <map>

#include "formats/intan_header.hpp"
#include "spikey/host/acquisition.hpp"

namespace spikey::host {

namespace {

// A channel of a folder's sample file: a signal type, or one half of time.dat's sample numbers.
struct FolderChannel {
  std::string name;
  int type = 0;  // an intan::Signal, or -1 / -2 for time.dat's low / high 16 bits
};

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
  const MappedFile info_map(info);
  const intan::Header header = intan::read_header(info_map.bytes(), info.string());
  if (header.rhs) throw InputError(info.string() + ": an RHS header; an RHD folder's info.rhd holds an RHD one");
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
    std::vector<FolderChannel> channels;
    if (base == "time.dat") {
      channels = {{"time_low16", -1}, {"time_high16", -2}};
    } else if (const int type = per_channel_type(base); type >= 0 && has_extension(path, ".dat")) {
      const std::string stem = base.substr(0, base.size() - 4);
      channels = {{stem.substr(starts_with(stem, "board-") ? 6 : stem.find('-') + 1), type}};
    } else if (const auto it = kPerTypeFiles.find(base); it != kPerTypeFiles.end()) {
      for (const auto& c : header.enabled)
        if (static_cast<int>(c.type) == it->second) channels.push_back({c.name, it->second});
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
      if (c.type >= 0) label.bit_volts = intan::microvolts_per_step(static_cast<intan::Signal>(c.type), header);
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
