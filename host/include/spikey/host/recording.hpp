// The encoder's view of its inputs: channels x samples of int16, backed by memory-mapped
// files, plus every non-sample byte of each file (SPEC.md §4.2).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/host/mapped_file.hpp"
#include "spikey/host/memory_pool.hpp"
#include "spikey/host/wav.hpp"

namespace spikey::host {

// What the acquisition system's files say about one channel (SpikeGLX .meta, Open Ephys
// structure.oebin); empty for WAV and raw inputs.
struct ChannelLabel {
  std::string name;
  std::optional<double> bit_volts;
  std::string units;
  bool sync = false;  // a sync or digital word: a bitfield, not a signal
};

struct InputSource {
  std::filesystem::path file;  // as found on disk
  std::string restore_path;    // relative path restored by decompress
  format::SourceKind kind = format::SourceKind::wav;
  MappedFile map;
  std::uint32_t channel_count = 0;  // 0 for a side file
  std::uint64_t data_offset = 0;    // first sample byte in the file (a side file: its size)
  std::uint64_t frames = 0;
  double sample_rate = 0;           // 0 for a side file
  std::vector<ChannelLabel> labels{};  // one per channel, or none
  std::uint64_t delta64_offset = 0;  // side files: the u64 words stored as differences
  std::uint64_t delta64_count = 0;
  bool unsigned_samples = false;     // raw uint16: stored with the top bit flipped (SPEC §4.2)
  bool big_endian = false;           // the file's samples are big-endian (SPEC §4.2, version 11)
  // Samples in records (SPEC §4.2, version 11): data_offset is then the first record's start;
  // records.framing is unused here.
  format::SourceRecords records{};
  bool snippets = false;  // the records hold spike waveforms, one each (SPEC §4.2, version 14)
  // Records of one channel each (SPEC §4.2, version 16; records.channel_records): record r holds
  // table.lengths[r] samples of channel table.channels[r] (then, with table.tails, version 17,
  // table.tails[r] bytes of framing of its own) and starts at record_starts[r] (from the file's
  // start); set by index_channel_records(), which fills the rest.
  format::RecordTable table{};
  std::vector<std::uint64_t> record_starts{};
  std::vector<std::uint64_t> channel_lengths{};  // each channel's samples; frames is the longest
  std::vector<bool> snippet_channels{};          // the channels that hold spike waveforms (a Plexon file's)
  std::vector<double> channel_rates{};           // each channel's rate where they differ (empty: sample_rate)
  // Per channel, its records in file order as {first sample, record}.
  std::vector<std::vector<std::pair<std::uint64_t, std::uint64_t>>> channel_records{};
  // From table, data_offset, records.header and records.trailer.
  void index_channel_records();
  std::uint64_t record_tail(std::uint64_t r) const { return table.tails.empty() ? 0 : table.tails[r]; }
  // Float samples on a grid (SPEC §4.2, version 12): 4 or 8 bytes each (0: int16), each
  // sample_step times its int16 code.
  std::uint32_t float_bytes = 0;
  double sample_step = 0;
  std::uint64_t sample_bytes() const { return float_bytes != 0 ? float_bytes : 2; }

  std::uint64_t data_end() const {
    if (records.channel_records)
      return record_starts.empty() ? data_offset : record_starts.back() + records.framing_bytes() + 2ull * table.lengths.back() + record_tail(record_starts.size() - 1);
    return data_offset + (records.count != 0 ? records.record_start(records.count, channel_count) : frames * channel_count * sample_bytes());
  }
  // The file offset of channel j's sample of frame t (in planar records, channel j's run of
  // the record continues from there).
  std::uint64_t sample_offset(std::uint64_t t, std::uint32_t j = 0) const {
    if (records.count == 0) return data_offset + (t * channel_count + j) * sample_bytes();
    const std::uint64_t r = records.record_of(t);
    return data_offset + records.record_start(r, channel_count) +
           records.sample_offset(channel_count, j, static_cast<std::uint32_t>(t - records.first_frame(r)));
  }
};

// Side files are kept in the metadata section (SPEC §3.3), which every restore holds in memory,
// with the other verbatim bytes (below). A Neuralynx tetrode session's .ntt files can pass a
// gigabyte; larger ones (videos) are archived on their own. (768 MiB up to format 14.)
inline constexpr std::uint64_t kMaxSideFileBytes = 3ull << 30;
// Every byte kept verbatim (side files, headers, record framing) is in the metadata section,
// whose content is at most 16 GiB from format 15 (1 GiB before). The encoder holds these bytes
// in memory, and its metadata copy a second time: 4 GiB keeps that within a workstation's
// memory and covers about 200 GB of Neuralynx .ncs files (20 bytes of every 1044) or four
// hours of a 128-channel Intan recording (about 1.3 KB a data block) in one archive.
inline constexpr std::uint64_t kMaxVerbatimBytes = 4ull << 30;

// --raw-format: int16 (default), uint16 (offset binary), int16be or uint16be (big-endian).
struct RawSampleFormat {
  bool unsigned_samples = false;
  bool big_endian = false;
};
// Throws InputError for any other name.
RawSampleFormat parse_raw_format(const std::string& name);

struct InputOptions {
  std::optional<std::uint32_t> raw_channels;  // file arguments are headerless interleaved int16
  std::optional<double> raw_rate;
  bool raw_unsigned = false;  // the raw files hold uint16 samples (--raw-format uint16)
  // WAVs whose header declares fewer data bytes than follow it (unfinalized): take every whole
  // frame to the end of the file as samples, the header kept as it is.
  bool repair_wav_size = false;
  bool raw_big_endian = false;     // --raw-format int16be / uint16be
  std::uint64_t raw_offset = 0;    // --raw-offset: bytes before the samples of each raw file, kept verbatim
};

// Samples gathered from a recording (Recording::gather's layout, chunk after chunk): not
// zero-filled first, since the gather writes every one (a batch's hundreds of megabytes, in
// parallel parts; zero-filling them was one thread's pass ahead of those). From an executor's
// pool where it has one (its page-locked memory), else from the heap.
using GatheredSamples = std::vector<std::int16_t, PoolAllocator<std::int16_t>>;

class Recording {
 public:
  // Opens the inputs named on the command line (SPEC.md §4.1 fixes channel order and restore
  // paths). `note` receives informational lines (e.g. skipped files). Throws InputError.
  static Recording open(const std::vector<std::filesystem::path>& arguments, const InputOptions& options,
                        const std::function<void(const std::string&)>& note);
  // One raw source held in memory (interleaved 16-bit samples, read in place: `bytes` must
  // outlive the recording), restored as `name`: the Python compressor's arrays.
  static Recording from_memory(std::span<const std::uint8_t> bytes, const std::string& name, std::uint32_t channels, double sample_rate,
                               bool unsigned_samples);

  double sample_rate() const { return sample_rate_; }  // the fastest source's; sources may differ
  const std::vector<InputSource>& sources() const { return sources_; }
  std::size_t channel_count() const { return channel_source_.size(); }
  std::uint32_t source_of_channel(std::size_t channel) const { return channel_source_[channel]; }
  std::uint64_t channel_length(std::size_t channel) const {
    const InputSource& src = sources_[channel_source_[channel]];
    return src.records.channel_records ? src.channel_lengths[index_in_source(channel)] : src.frames;
  }
  double channel_rate(std::size_t channel) const {
    const InputSource& src = sources_[channel_source_[channel]];
    return src.channel_rates.empty() ? src.sample_rate : src.channel_rates[index_in_source(channel)];
  }
  bool snippet_channel(std::size_t channel) const {  // spike waveforms, not a time series (SPEC §4.2)
    const InputSource& src = sources_[channel_source_[channel]];
    return src.snippets || (!src.snippet_channels.empty() && src.snippet_channels[index_in_source(channel)]);
  }
  std::string channel_name(std::size_t channel) const;  // the acquisition system's, else path[:i]
  const ChannelLabel* channel_label(std::size_t channel) const;  // null for WAV and raw inputs
  // Names, gains and units given by the caller for the channels of source `source` (the Python
  // API's arrays): one label per channel; throws std::invalid_argument otherwise.
  void label_channels(std::size_t source, std::vector<ChannelLabel> labels);
  std::uint64_t total_samples() const;
  std::uint64_t original_bytes() const;

  // Copies the samples of the chunk's present channels, channel after channel (each
  // channel's sample_count[i] samples), into `out`, resized to hold them: the layout of decoded
  // chunks (SPEC.md §4.4). Any allocator (GatheredSamples too: it must not bind to the span
  // form below, which takes the size it is given).
  template <class Allocator>
  void gather(std::uint64_t first_sample, const format::ChunkChannels& present, std::vector<std::int16_t, Allocator>& out) const {
    std::size_t total = 0;
    for (const auto n : present.sample_count) total += n;
    out.resize(total);
    gather(first_sample, present, std::span<std::int16_t>(out));
  }
  // The same into `out`, which holds exactly the present channels' samples (a batch's buffer).
  void gather(std::uint64_t first_sample, const format::ChunkChannels& present, std::span<std::int16_t> out) const;
  // Part `part` of `parts` of that: of each channel's n samples, those at [n * part / parts,
  // n * (part + 1) / parts) in its row, the rest of `out` left as it is. The parts of a chunk
  // can be gathered on several threads at once.
  void gather(std::uint64_t first_sample, const format::ChunkChannels& present, std::span<std::int16_t> out, std::size_t part,
              std::size_t parts) const;

 private:
  void add_directory(const std::filesystem::path& dir, const InputOptions& options, const std::function<void(const std::string&)>& note,
                     const std::function<void(InputSource)>& add);
  std::size_t index_in_source(std::size_t channel) const;

  double sample_rate_ = 0;
  std::vector<InputSource> sources_;
  std::vector<std::uint32_t> channel_source_;
};

}  // namespace spikey::host
