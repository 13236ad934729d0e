// White Matter eCube recordings (ServerNode / eCube Server): a `.bin` file whose name carries
// its channels and rate, e.g. "HSW_2024_12_12__10_28_23__70min_17sec__hsamp_64ch_25000sps.bin":
//
//   8 bytes: the eCube timestamp of the first frame; then interleaved little-endian int16 frames.
//
// Nothing in the file says how many channels it has, so the name must ("<N>ch_<R>sps"). The
// file is an interleaved source with an 8-byte header (kept as it is; SPEC §4.1 `raw`), so it
// restores byte for byte with nothing new in the archive. Headstage files ("HSW_") get the
// headstages' step of 6.25 mV / 2^15 (settingsHeadstages.xml's voltsperbit 1.907348633e-7).
#include <cmath>
#include <cstdio>
#include <regex>

#include "spikey/host/acquisition.hpp"

namespace spikey::host {

namespace {

constexpr std::uint64_t kWhiteMatterHeader = 8;
constexpr double kWhiteMatterHeadstageMicrovolts = 6250.0 / 32768.0;

struct WhiteMatterName {
  std::uint32_t channels = 0;
  double rate = 0;
  std::optional<double> seconds;  // the duration the name gives ("70min_17sec"), when it does
  std::string duration;           // as "70 min 17 s"
  bool headstage = false;
};

std::optional<WhiteMatterName> parse_white_matter_name(const std::filesystem::path& file) {
  if (!has_extension(file, ".bin")) return std::nullopt;
  const std::string name = file.filename().string();
  static const std::regex layout(R"((?:^|_)(\d{1,5})ch_(\d{1,7})sps(?:_|\.))");
  std::smatch m;
  if (!std::regex_search(name, m, layout)) return std::nullopt;
  WhiteMatterName parsed;
  parsed.channels = static_cast<std::uint32_t>(std::stoul(m[1].str()));
  parsed.rate = std::stod(m[2].str());
  if (parsed.channels == 0 || parsed.rate <= 0) return std::nullopt;
  static const std::regex minutes_seconds(R"((?:^|_)(\d{1,6})min_(\d{1,2})sec(?:_|\.))");
  if (std::regex_search(name, m, minutes_seconds)) {
    parsed.seconds = 60.0 * std::stod(m[1].str()) + std::stod(m[2].str());
    parsed.duration = m[1].str() + " min " + m[2].str() + " s";
  }
  parsed.headstage = name.rfind("HSW_", 0) == 0;
  return parsed;
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", seconds);
  return text;
}

}  // namespace

bool is_white_matter_bin(const std::filesystem::path& file) { return parse_white_matter_name(file).has_value(); }

InputSource open_white_matter_bin(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note) {
  const WhiteMatterName name = *parse_white_matter_name(file);
  InputSource src{file, std::move(restore_path), format::SourceKind::raw, MappedFile(file)};
  if (src.map.size() < kWhiteMatterHeader) return src;  // no frames: the caller keeps it whole
  src.channel_count = name.channels;
  src.data_offset = kWhiteMatterHeader;
  const std::uint64_t frame_bytes = std::uint64_t{name.channels} * 2;
  src.frames = (src.map.size() - kWhiteMatterHeader) / frame_bytes;
  src.sample_rate = name.rate;
  if (src.frames == 0) return src;
  if (const std::uint64_t partial = (src.map.size() - kWhiteMatterHeader) % frame_bytes; partial != 0)
    note("warning: " + file.string() + ": " + std::to_string(partial) + " byte(s) after its last whole frame of " + std::to_string(name.channels) +
         " channels (a recording cut short, or not " + std::to_string(name.channels) + " channels?): kept byte for byte");
  // The name's duration is whole seconds; a file a second or more shorter (or longer) than it
  // says is a copy cut short, or a renamed file.
  const double seconds = static_cast<double>(src.frames) / name.rate;
  if (name.seconds && std::abs(seconds - *name.seconds) >= 1.0)
    note("warning: " + file.string() + ": its name says " + name.duration + " but it holds " + seconds_text(seconds) +
         " of " + std::to_string(name.channels) + " channels at " + std::to_string(static_cast<std::uint64_t>(name.rate)) +
         " Hz (a copy cut short?): archived as it is, byte for byte");
  if (name.headstage) {
    src.labels.resize(name.channels);
    for (ChannelLabel& label : src.labels) label.bit_volts = kWhiteMatterHeadstageMicrovolts, label.units = "uV";
  }
  return src;
}

}  // namespace spikey::host
