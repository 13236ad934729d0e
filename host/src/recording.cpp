#include "spikey/host/recording.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "spikey/format/float_samples.hpp"
#include "spikey/format/text.hpp"
#include "spikey/host/acquisition.hpp"

#include "transpose.hpp"

namespace spikey::host {

namespace fs = std::filesystem;

namespace {

// Channels [j0, j1) of frames [t0, t1) of interleaved 16-bit frames (k channels each) into rows
// of n samples: dst[j * n + t].
void transpose_frames(const std::uint8_t* frames, std::size_t k, std::size_t n, std::size_t j0, std::size_t j1, std::size_t t0, std::size_t t1,
                      std::int16_t* dst) {
  transpose_int16(frames + (t0 * k + j0) * 2, k, t1 - t0, j1 - j0, dst + j0 * n + t0, n);
}

InputSource open_wav(const fs::path& file, std::string restore_path, bool repair_size, const std::function<void(const std::string&)>& note) {
  InputSource src{file, std::move(restore_path), format::SourceKind::wav, MappedFile(file)};
  const WavLayout layout = parse_wav(src.map.bytes(), file.string(), repair_size);
  if (layout.unclaimed_bytes > 0) {
    const std::string declared = std::to_string(layout.declared_frames) + " frame(s)";
    if (repair_size)
      note(file.string() + ": its header declares " + declared + "; --repair-wav-size takes " + std::to_string(layout.frames) +
           " as samples (the header is kept as it is, so the file restores byte for byte)");
    else
      note("warning: " + file.string() + ": its header declares " + declared + " but " + std::to_string(layout.unclaimed_bytes) +
           " more byte(s) follow that are not a RIFF chunk (a recording that was never finalized?); they are kept byte for "
           "byte but not compressed as samples: --repair-wav-size takes them as samples");
  }
  src.channel_count = layout.channels;
  src.data_offset = layout.data_offset;
  src.frames = layout.frames;
  src.sample_rate = layout.sample_rate;
  return src;
}

using FileOpener = InputSource (*)(const fs::path&, std::string, const std::function<void(const std::string&)>&);

// The reader of a file that is a recording by itself (Neuralynx .ncs, Open Ephys .continuous,
// Blackrock .nsX and .nev, Intan .rhd/.rhs, NWB, Plexon .plx, Spike2 .smr, AlphaOmega .mpx/.map, Axon .abf, Axona .bin, White Matter .bin), or null.
FileOpener recording_file_opener(const fs::path& file) {
  return is_neuralynx_ncs(file)         ? open_neuralynx_ncs
         : is_open_ephys_continuous(file) ? open_open_ephys_continuous
         : is_blackrock_nsx(file)         ? open_blackrock_nsx
         : is_blackrock_nev(file)         ? open_blackrock_nev
         : is_intan_file(file)            ? open_intan_file
         : is_nwb(file)                   ? open_nwb
         : is_plexon_plx(file)            ? open_plexon_plx
         : is_spike2_smr(file)            ? open_spike2_smr
         : is_alpha_omega_file(file)      ? open_alpha_omega_file
         : is_abf_file(file)              ? open_abf_file
         : is_axona_bin(file)             ? open_axona_bin
         : is_white_matter_bin(file)      ? open_white_matter_bin
                                          : nullptr;
}

// Such a file, or, when it holds no samples, a side file.
std::optional<InputSource> open_record_file(const fs::path& file, const std::string& restore_path, const std::function<void(const std::string&)>& note) {
  const FileOpener open = recording_file_opener(file);
  if (open == nullptr) return std::nullopt;
  InputSource src = open(file, restore_path, note);
  if (src.frames > 0 || src.kind == format::SourceKind::side_file) return src;
  note(file.string() + ": no samples after its header; kept whole as a side file");
  return open_side_file(file, restore_path);
}

}  // namespace

RawSampleFormat parse_raw_format(const std::string& name) {
  if (name == "int16") return {false, false};
  if (name == "uint16") return {true, false};
  if (name == "int16be") return {false, true};
  if (name == "uint16be") return {true, true};
  throw InputError("--raw-format must be int16, uint16, int16be or uint16be, not \"" + name + "\"");
}

Recording Recording::open(const std::vector<fs::path>& arguments, const InputOptions& options,
                          const std::function<void(const std::string&)>& note) {
  if (arguments.empty()) throw InputError("no input files");
  if (options.raw_channels.has_value() != options.raw_rate.has_value())
    throw InputError("--raw-channels and --raw-rate go together");
  if (options.raw_channels && *options.raw_channels == 0) throw InputError("--raw-channels must be at least 1");
  if (options.raw_rate && !(*options.raw_rate > 0 && std::isfinite(*options.raw_rate)))
    throw InputError("--raw-rate must be a positive number of samples per second");

  Recording rec;
  std::set<fs::path> taken;  // a SpikeGLX pair named twice (x.bin and x.meta) is archived once
  const auto add = [&](InputSource source) {
    if (taken.insert(fs::weakly_canonical(source.file)).second) rec.sources_.push_back(std::move(source));
  };
  for (const auto& arg : arguments) {
    std::error_code ec;
    const auto status = fs::status(arg, ec);
    if (ec || !fs::exists(status)) throw InputError(arg.string() + ": no such file or directory");
    if (fs::is_directory(status)) {
      rec.add_directory(arg, options, note, add);
    } else if (fs::is_regular_file(status)) {
      const std::string base = arg.filename().string();
      if (options.raw_channels) {
        InputSource raw =
            open_interleaved_int16(arg, base, format::SourceKind::raw, *options.raw_channels, *options.raw_rate, options.raw_offset);
        raw.unsigned_samples = options.raw_unsigned;
        raw.big_endian = options.raw_big_endian;
        add(std::move(raw));
      } else if (is_spikeglx_bin(arg) || is_spikeglx_meta(arg)) {
        fs::path bin = arg;
        if (is_spikeglx_meta(arg)) bin.replace_extension(".bin");
        add(open_spikeglx_bin(bin, bin.filename().string(), note));
        add(open_side_file(spikeglx_meta_of(bin), spikeglx_meta_of(bin).filename().string()));
      } else if (auto records = open_record_file(arg, base, note)) {
        add(std::move(*records));
      } else if (base == "structure.oebin") {
        throw InputError(arg.string() + ": give the Open Ephys recording folder (or the Record Node folder above it), not its structure.oebin");
      } else {
        InputSource probe{arg, base, format::SourceKind::wav, MappedFile(arg)};
        if (probe.map.size() == 0) throw InputError(arg.string() + ": the file is empty (0 bytes), not a WAV file");
        if (!looks_like_wav(probe.map.bytes())) {
          if (has_extension(arg, ".bin"))
            throw InputError(arg.string() + ": no SpikeGLX .meta beside it (" + spikeglx_meta_of(arg).filename().string() +
                             "); for headerless int16 use --raw-channels N --raw-rate HZ");
          throw InputError(arg.string() +
                           ": not a WAV file (no RIFF/WAVE header); for headerless int16 use --raw-channels N --raw-rate HZ");
        }
        add(open_wav(arg, base, options.repair_wav_size, note));
      }
    } else {
      throw InputError(arg.string() + ": not a regular file or directory");
    }
  }
  if (rec.sources_.empty()) throw InputError("no input files");

  std::map<std::string, const InputSource*> by_restore_path;
  for (auto& s : rec.sources_) {
    // Restore paths are '/'-separated on every system (SPEC §4.1, §4.3), so a backslash cannot be kept.
    if (s.restore_path.find('\\') != std::string::npos)
      throw InputError(s.file.string() + ": a file name with a backslash cannot be archived (restore paths are '/'-separated on "
                       "every system); rename the file");
    // The metadata is UTF-8 JSON, and a restored file must get its own name back.
    if (!format::is_utf8(s.restore_path))
      throw InputError(s.file.string() + ": a file name that is not UTF-8 text cannot be archived (the archive's metadata is "
                       "UTF-8 JSON, and the restored file must get its name back); rename the file");
    // Names and units from headers written in another encoding (Latin-1 "µV") become UTF-8.
    for (ChannelLabel& label : s.labels) {
      label.name = format::utf8_text(label.name);
      label.units = format::utf8_text(label.units);
    }
    auto [it, inserted] = by_restore_path.emplace(s.restore_path, &s);
    if (!inserted)
      throw InputError("inputs " + it->second->file.string() + " and " + s.file.string() + " would both restore to " +
                       s.restore_path);
  }
  // The archive's rate is its fastest stream's (chunks are cut at it); streams at other rates
  // (SpikeGLX LF beside AP, Open Ephys LFP beside AP) keep their own (SPEC §4.1).
  double fastest = 0;  // a Plexon file's channels have rates of their own
  for (const auto& s : rec.sources_) {
    if (s.channel_count > 0) fastest = std::max(fastest, s.sample_rate);
    for (const double rate : s.channel_rates) fastest = std::max(fastest, rate);
  }
  // Side files live in the metadata section (SPEC §3.3), which is at most 1 GiB.
  std::uint64_t side_bytes = 0;
  const InputSource* largest = nullptr;
  for (const auto& s : rec.sources_) {
    if (s.kind != format::SourceKind::side_file) continue;
    side_bytes += s.map.size();
    if (largest == nullptr || s.map.size() > largest->map.size()) largest = &s;
  }
  if (side_bytes > kMaxSideFileBytes)
    throw InputError("the side files (every file of an acquisition folder that is not a recording) add up to " +
                     std::to_string(side_bytes >> 20) + " MiB, over the archive's " + std::to_string(kMaxSideFileBytes >> 20) +
                     " MiB for them; the largest is " + largest->file.string() + " (" + std::to_string(largest->map.size() >> 20) +
                     " MiB): archive it separately and leave it out of the folder");
  // Every byte that is not a sample (headers, record framing such as an Intan block's
  // timestamps and auxiliary samples, side files) is kept in the metadata section too: refuse
  // inputs whose verbatim bytes would not fit, naming the file that holds the most, before any
  // work is done.
  std::uint64_t verbatim = 0, most = 0;
  const InputSource* heaviest = nullptr;
  for (const auto& s : rec.sources_) {
    std::uint64_t samples = s.frames * s.channel_count, table = 0;
    if (s.records.channel_records) {  // and the record table, 8 bytes a record (12 with tails; SPEC §4.2)
      samples = std::accumulate(s.channel_lengths.begin(), s.channel_lengths.end(), std::uint64_t{0});
      table = (s.records.tails ? 12 : 8) * s.records.count;
    }
    const std::uint64_t bytes = s.map.size() - samples * s.sample_bytes() + table;
    verbatim += bytes;
    if (bytes > most) most = bytes, heaviest = &s;
  }
  if (verbatim > kMaxVerbatimBytes)
    throw InputError("the inputs' bytes that are not samples (headers, record framing, side files) add up to " + std::to_string(verbatim >> 20) +
                     " MiB, over the archive's " + std::to_string(kMaxVerbatimBytes >> 20) + " MiB for them; " + heaviest->file.string() +
                     " holds " + std::to_string(most >> 20) + " MiB of them: archive its files in several archives");
  // Inputs of side files alone (an NWB file of float samples) make an archive without channels
  // (SPEC §4.1), whose rate is nominal.
  rec.sample_rate_ = fastest > 0 ? fastest : 1.0;
  for (std::uint32_t i = 0; i < rec.sources_.size(); ++i)
    rec.channel_source_.insert(rec.channel_source_.end(), rec.sources_[i].channel_count, i);
  return rec;
}

Recording Recording::from_memory(std::span<const std::uint8_t> bytes, const std::string& name, std::uint32_t channels, double sample_rate,
                                 bool unsigned_samples) {
  if (channels == 0) throw InputError("an array needs at least one channel");
  if (!(sample_rate > 0 && std::isfinite(sample_rate))) throw InputError("the sample rate must be a positive number of samples per second");
  if (name.empty() || name.find_first_of("/\\") != std::string::npos) throw InputError("\"" + name + "\" is not a file name");
  InputSource src{name, name, format::SourceKind::raw, MappedFile::view(bytes)};
  src.channel_count = channels;
  src.frames = bytes.size() / (std::uint64_t{channels} * 2);
  src.sample_rate = sample_rate;
  src.unsigned_samples = unsigned_samples;
  Recording rec;
  rec.sources_.push_back(std::move(src));
  rec.sample_rate_ = sample_rate;
  rec.channel_source_.assign(channels, 0);
  return rec;
}

void Recording::add_directory(const fs::path& dir, const InputOptions& options, const std::function<void(const std::string&)>& note,
                              const std::function<void(InputSource)>& add) {
  std::vector<std::pair<std::string, fs::path>> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file()) files.emplace_back(it->path().lexically_relative(dir).generic_string(), it->path());
  if (ec) throw InputError(dir.string() + ": cannot list directory: " + ec.message());
  std::sort(files.begin(), files.end());

  // An acquisition folder (Open Ephys or SpikeGLX) is archived whole: every file that is not
  // a recording becomes a side file. A folder of WAVs keeps only its WAVs.
  std::map<fs::path, OpenEphysStream> streams;  // by continuous.dat
  std::map<fs::path, InputSource> intan;        // the sample files of Intan folders
  bool acquisition = false;
  for (const auto& [relative, path] : files) {
    if (is_intan_folder_file(path)) {
      acquisition = true;
      for (InputSource& s : open_intan_folder(path, files, "", note)) {
        const fs::path file = s.file;
        intan.emplace(file, std::move(s));
      }
    } else if (path.filename() == "structure.oebin") {
      acquisition = true;
      for (auto& s : read_structure_oebin(path)) streams[s.dat.lexically_normal()] = std::move(s);
    } else if (is_spikeglx_bin(path) || recording_file_opener(path) != nullptr) {
      acquisition = true;
    }
  }
  std::size_t skipped = 0, recordings = 0;
  for (const auto& [relative, path] : files) {
    const auto stream = streams.find(path.lexically_normal());
    if (const auto it = intan.find(path); it != intan.end()) {
      recordings += it->second.labels.front().name != "time_low16";
      add(std::move(it->second));
    } else if (stream != streams.end()) {
      add(open_open_ephys_stream(stream->second, relative));
      streams.erase(stream);
      ++recordings;
    } else if (is_spikeglx_bin(path)) {
      add(open_spikeglx_bin(path, relative, note));
      ++recordings;
    } else if (auto records = open_record_file(path, relative, note)) {
      recordings += records->channel_count > 0 ? 1 : 0;
      add(std::move(*records));
    } else if (has_extension(path, ".wav")) {
      add(open_wav(path, relative, options.repair_wav_size, note));
      ++recordings;
    } else if (acquisition) {
      add(open_side_file(path, relative));
    } else {
      ++skipped;
    }
  }
  if (!streams.empty()) throw InputError(streams.begin()->first.string() + ": listed in a structure.oebin but missing");
  if (recordings == 0 && !acquisition)
    throw InputError(dir.string() + ": directory holds no recordings (.wav files, SpikeGLX .bin with .meta, an Open Ephys structure.oebin, "
                     "an Intan info.rhd with its .dat files, Intan .rhd/.rhs, Neuralynx .ncs, Open Ephys .continuous, Blackrock .ns1-.ns6 or .nev, Plexon .plx, Spike2 .smr or NWB files)");
  if (skipped > 0) note(dir.string() + ": skipping " + std::to_string(skipped) + " file(s) that are not .wav");
}

void InputSource::index_channel_records() {
  const std::uint64_t count = table.channels.size();
  records.count = count;
  records.channel_records = true;
  records.tails = !table.tails.empty();
  record_starts.resize(count);
  channel_lengths.assign(channel_count, 0);
  channel_records.assign(channel_count, {});
  std::uint64_t at = data_offset;
  for (std::uint64_t r = 0; r < count; ++r) {
    record_starts[r] = at;
    at += records.framing_bytes() + 2ull * table.lengths[r] + record_tail(r);
    const std::uint32_t j = table.channels[r];
    if (table.lengths[r] == 0) continue;  // an event's record: no samples to find
    channel_records[j].emplace_back(channel_lengths[j], r);
    channel_lengths[j] += table.lengths[r];
  }
  frames = channel_lengths.empty() ? 0 : *std::max_element(channel_lengths.begin(), channel_lengths.end());
}

std::size_t Recording::index_in_source(std::size_t channel) const {
  const std::uint32_t s = channel_source_[channel];
  return channel - static_cast<std::size_t>(std::find(channel_source_.begin(), channel_source_.end(), s) - channel_source_.begin());
}

const ChannelLabel* Recording::channel_label(std::size_t channel) const {
  const InputSource& src = sources_[channel_source_[channel]];
  return src.labels.empty() ? nullptr : &src.labels[index_in_source(channel)];
}

void Recording::label_channels(std::size_t source, std::vector<ChannelLabel> labels) {
  if (source >= sources_.size() || labels.size() != sources_[source].channel_count)
    throw std::invalid_argument("expected " + std::to_string(source < sources_.size() ? sources_[source].channel_count : 0) +
                                " channel labels, got " + std::to_string(labels.size()));
  for (const auto& label : labels)
    if (label.bit_volts && !(std::isfinite(*label.bit_volts) && *label.bit_volts > 0))
      throw std::invalid_argument("a channel's gain (bit_volts) must be a positive finite number");
  for (ChannelLabel& label : labels) {  // as open() does for the files' labels
    label.name = format::utf8_text(label.name);
    label.units = format::utf8_text(label.units);
  }
  sources_[source].labels = std::move(labels);
}

std::string Recording::channel_name(std::size_t channel) const {
  const InputSource& src = sources_[channel_source_[channel]];
  if (const ChannelLabel* label = channel_label(channel); label != nullptr && !label->name.empty()) return label->name;
  if (src.channel_count == 1) return src.restore_path;
  return src.restore_path + ":" + std::to_string(index_in_source(channel));
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

void Recording::gather(std::uint64_t first_sample, const format::ChunkChannels& present, std::span<std::int16_t> out) const {
  gather(first_sample, present, out, 0, 1);
}

void Recording::gather(std::uint64_t first_sample, const format::ChunkChannels& present, std::span<std::int16_t> out, std::size_t part,
                       std::size_t parts) const {
  std::size_t total = 0;
  for (auto n : present.sample_count) total += n;
  if (out.size() != total)
    throw std::logic_error("Recording::gather: the output holds " + std::to_string(out.size()) + " samples, not " + std::to_string(total));
  if (parts == 0 || part >= parts) throw std::logic_error("Recording::gather: part " + std::to_string(part) + " of " + std::to_string(parts));
  std::size_t out_pos = 0;
  std::size_t i = 0;
  while (i < present.channel.size()) {
    // Present channels of one source are consecutive and share a sample count: transpose the
    // source's interleaved frames once rather than striding through them per channel.
    const std::uint32_t s = channel_source_[present.channel[i]];
    const InputSource& src = sources_[s];
    if (src.records.channel_records) {  // records of one channel each: a channel at a time, as their lengths differ
      const std::size_t n = present.sample_count[i];
      const std::size_t begin = n * part / parts, end = n * (part + 1) / parts;
      const auto& records = src.channel_records[index_in_source(present.channel[i])];
      std::int16_t* dst = out.data() + out_pos;
      std::uint64_t t = first_sample + begin;
      auto at = std::upper_bound(records.begin(), records.end(), std::pair{t, ~std::uint64_t{0}});
      for (std::size_t done = begin; done < end; ++at) {
        const auto [start, r] = *(at - 1);
        const std::size_t run = std::min<std::uint64_t>(end - done, start + src.table.lengths[r] - t);
        std::memcpy(dst + done, src.map.bytes().data() + src.record_starts[r] + src.records.header + 2 * (t - start), run * 2);
        done += run;
        t += run;
      }
      for (std::int16_t& v : std::span<std::int16_t>(dst + begin, end - begin)) {
        if (src.big_endian) v = static_cast<std::int16_t>(__builtin_bswap16(static_cast<std::uint16_t>(v)));
        if (src.unsigned_samples) v = static_cast<std::int16_t>(v ^ 0x8000);
      }
      out_pos += n;
      ++i;
      continue;
    }
    const std::size_t k = src.channel_count;
    const std::size_t n = present.sample_count[i];
    const std::size_t begin = n * part / parts, end = n * (part + 1) / parts;  // this part's samples of each row
    // A run of frames contiguous in the file: all of them, or the rest of a record.
    const auto copy_run = [&](std::uint64_t first, std::size_t run, std::int16_t* dst) {
      const std::uint8_t* frames = src.map.bytes().data() + src.sample_offset(first);
      if (k == 1) {
        std::memcpy(dst, frames, run * 2);
        return;
      }
      // In tiles of 256 frames by 64 channels: a tile writes 512 contiguous bytes to each of 64
      // rows, so that with many channels it touches 64 output pages, not one per channel (a
      // 1-second chunk of 1024 channels: 24 ms instead of 30 ms in blocks of 32 frames across
      // all rows; the same or faster at 4-384 channels).
      constexpr std::size_t kFrames = 256, kChannels = 64;
      for (std::size_t t0 = 0; t0 < run; t0 += kFrames) {
        const std::size_t t1 = std::min(run, t0 + kFrames);
        for (std::size_t j0 = 0; j0 < k; j0 += kChannels) transpose_frames(frames, k, n, j0, std::min(k, j0 + kChannels), t0, t1, dst);
      }
    };
    std::int16_t* dst = out.data() + out_pos;
    if (src.float_bytes != 0) {  // each value's code on the source's grid (SPEC §4.2)
      for (std::size_t j = 0; j < k; ++j)
        for (std::size_t t = begin; t < end; ++t) {
          const std::uint64_t at = src.sample_offset(first_sample + t, static_cast<std::uint32_t>(j));
          if (!format::float_sample_code(src.map.bytes().data() + at, src.sample_step, src.float_bytes, src.big_endian, dst[j * n + t]))
            throw InputError(src.file.string() + ": byte " + std::to_string(at) + ": the value is no longer a whole multiple of the step " +
                             "it had when the file was opened (the file changed?)");
        }
      out_pos += n * k;
      i += k;
      continue;
    }
    if (src.records.count == 0) {
      copy_run(first_sample + begin, end - begin, dst + begin);
    } else if (src.records.planar) {  // each channel's run of a record is contiguous in the file
      for (std::size_t done = begin; done < end;) {
        const std::uint64_t t = first_sample + done;
        const std::size_t run = std::min<std::size_t>(end - done, src.records.frames - t % src.records.frames);
        for (std::uint32_t j = 0; j < k; ++j) std::memcpy(dst + j * n + done, src.map.bytes().data() + src.sample_offset(t, j), run * 2);
        done += run;
      }
    } else {
      for (std::size_t done = begin; done < end;) {
        const std::uint64_t t = first_sample + done;
        const std::uint64_t record = src.records.record_of(t);
        const std::size_t run = std::min<std::uint64_t>(end - done, src.records.first_frame(record) + src.records.frames_in(record) - t);
        copy_run(t, run, dst + done);
        done += run;
      }
    }
    for (std::size_t j = 0; j < k && (src.big_endian || src.unsigned_samples); ++j)
      for (std::int16_t& v : std::span<std::int16_t>(dst + j * n + begin, end - begin)) {
        if (src.big_endian) v = static_cast<std::int16_t>(__builtin_bswap16(static_cast<std::uint16_t>(v)));
        if (src.unsigned_samples) v = static_cast<std::int16_t>(v ^ 0x8000);  // uint16 as the signed value - 32768 (SPEC §4.2)
      }
    out_pos += n * k;
    i += k;
  }
}

}  // namespace spikey::host
