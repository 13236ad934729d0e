#include "spikey/host/recording.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <sstream>

namespace spikey::host {

namespace fs = std::filesystem;

namespace {

bool has_wav_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".wav";
}

std::string rate_text(double rate) {
  std::ostringstream s;
  s << rate;
  return s.str();
}

InputSource open_wav(const fs::path& file, std::string restore_path) {
  InputSource src{file, std::move(restore_path), format::SourceKind::wav, MappedFile(file)};
  const WavLayout layout = parse_wav(src.map.bytes(), file.string());
  src.channel_count = layout.channels;
  src.data_offset = layout.data_offset;
  src.frames = layout.frames;
  src.sample_rate = layout.sample_rate;
  return src;
}

InputSource open_raw(const fs::path& file, std::string restore_path, std::uint32_t channels, double rate) {
  InputSource src{file, std::move(restore_path), format::SourceKind::raw, MappedFile(file)};
  src.channel_count = channels;
  src.data_offset = 0;
  src.frames = src.map.size() / (std::uint64_t{channels} * 2);  // a partial last frame stays verbatim
  src.sample_rate = rate;
  return src;
}

}  // namespace

Recording Recording::open(const std::vector<fs::path>& arguments, const InputOptions& options,
                          const std::function<void(const std::string&)>& note) {
  if (arguments.empty()) throw InputError("no input files");
  if (options.raw_channels.has_value() != options.raw_rate.has_value())
    throw InputError("--raw-channels and --raw-rate go together");
  if (options.raw_channels && *options.raw_channels == 0) throw InputError("--raw-channels must be at least 1");
  if (options.raw_rate && !(*options.raw_rate > 0 && std::isfinite(*options.raw_rate)))
    throw InputError("--raw-rate must be a positive number of samples per second");

  Recording rec;
  for (const auto& arg : arguments) {
    std::error_code ec;
    const auto status = fs::status(arg, ec);
    if (ec || !fs::exists(status)) throw InputError(arg.string() + ": no such file or directory");
    if (fs::is_directory(status)) {
      std::vector<std::pair<std::string, fs::path>> wavs;
      std::size_t skipped = 0;
      for (fs::recursive_directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file()) continue;
        if (has_wav_extension(it->path()))
          wavs.emplace_back(it->path().lexically_relative(arg).generic_string(), it->path());
        else
          ++skipped;
      }
      if (ec) throw InputError(arg.string() + ": cannot list directory: " + ec.message());
      if (wavs.empty()) throw InputError(arg.string() + ": directory holds no .wav files");
      std::sort(wavs.begin(), wavs.end());
      if (skipped > 0) note(arg.string() + ": skipping " + std::to_string(skipped) + " file(s) that are not .wav");
      for (auto& [relative, path] : wavs) rec.sources_.push_back(open_wav(path, relative));
    } else if (fs::is_regular_file(status)) {
      const std::string base = arg.filename().string();
      if (options.raw_channels) {
        rec.sources_.push_back(open_raw(arg, base, *options.raw_channels, *options.raw_rate));
      } else {
        InputSource probe{arg, base, format::SourceKind::wav, MappedFile(arg)};
        if (probe.map.size() == 0) throw InputError(arg.string() + ": the file is empty (0 bytes), not a WAV file");
        if (!looks_like_wav(probe.map.bytes()))
          throw InputError(arg.string() +
                           ": not a WAV file (no RIFF/WAVE header); for headerless int16 use --raw-channels N --raw-rate HZ");
        rec.sources_.push_back(open_wav(arg, base));
      }
    } else {
      throw InputError(arg.string() + ": not a regular file or directory");
    }
  }

  std::map<std::string, const InputSource*> by_restore_path;
  for (const auto& s : rec.sources_) {
    auto [it, inserted] = by_restore_path.emplace(s.restore_path, &s);
    if (!inserted)
      throw InputError("inputs " + it->second->file.string() + " and " + s.file.string() + " would both restore to " +
                       s.restore_path);
  }
  rec.sample_rate_ = rec.sources_.front().sample_rate;
  for (const auto& s : rec.sources_) {
    if (s.sample_rate != rec.sample_rate_)
      throw InputError("mixed sample rates: " + rec.sources_.front().file.string() + " is " + rate_text(rec.sample_rate_) +
                       " Hz but " + s.file.string() + " is " + rate_text(s.sample_rate) + " Hz");
  }
  for (std::uint32_t i = 0; i < rec.sources_.size(); ++i)
    rec.channel_source_.insert(rec.channel_source_.end(), rec.sources_[i].channel_count, i);
  return rec;
}

std::string Recording::channel_name(std::size_t channel) const {
  const std::uint32_t s = channel_source_[channel];
  const InputSource& src = sources_[s];
  if (src.channel_count == 1) return src.restore_path;
  const auto first = std::find(channel_source_.begin(), channel_source_.end(), s) - channel_source_.begin();
  return src.restore_path + ":" + std::to_string(channel - static_cast<std::size_t>(first));
}

std::uint64_t Recording::total_samples() const {
  std::uint64_t longest = 0;
  for (const auto& s : sources_) longest = std::max(longest, s.frames);
  return longest;
}

std::uint64_t Recording::original_bytes() const {
  std::uint64_t total = 0;
  for (const auto& s : sources_) total += s.map.size();
  return total;
}

void Recording::gather(std::uint64_t first_sample, const format::ChunkChannels& present, std::vector<std::int16_t>& out) const {
  std::size_t total = 0;
  for (auto n : present.sample_count) total += n;
  out.resize(total);
  std::size_t out_pos = 0;
  std::size_t i = 0;
  while (i < present.channel.size()) {
    // Present channels of one source are consecutive and share a sample count: transpose the
    // source's interleaved frames once rather than striding through them per channel.
    const std::uint32_t s = channel_source_[present.channel[i]];
    const InputSource& src = sources_[s];
    const std::size_t k = src.channel_count;
    const std::size_t n = present.sample_count[i];
    const std::uint8_t* frames = src.map.bytes().data() + src.data_offset + first_sample * k * 2;
    if (k == 1) {
      std::memcpy(out.data() + out_pos, frames, n * 2);
    } else {
      std::int16_t* dst = out.data() + out_pos;
      for (std::size_t t = 0; t < n; ++t) {
        const std::uint8_t* frame = frames + t * k * 2;
        for (std::size_t j = 0; j < k; ++j) std::memcpy(dst + j * n + t, frame + j * 2, 2);
      }
    }
    out_pos += n * k;
    i += k;
  }
}

}  // namespace spikey::host
