// Random-access reads of a time window of some channels (SPEC.md §7): only the chunks that
// overlap the window are read, and only the requested channels' streams are decoded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "spikey/format/archive_reader.hpp"

namespace spikey::host {

enum class WindowFileFormat { bin, wav, npy };

// Output format from a file name's extension (.bin, .wav, .npy); throws std::invalid_argument.
WindowFileFormat window_format_for(const std::filesystem::path& path);

// Parses "0,7,100-131" into channel numbers, in the order given; an item may also be a channel
// name, or a range of two names ("AP0-AP7,SY0"). `names` are the archive's channel names.
// Throws std::invalid_argument.
std::vector<std::uint32_t> parse_channel_list(const std::string& text, const std::vector<std::string>& names);

// The channels a window takes when none are named: all but spike waveforms (snippets, SPEC §4.2, §7).
std::vector<std::uint32_t> time_series_channels(const format::Metadata& meta);

// The sample rate the channels share (time_series_channels when `channels` is empty): seconds and WAV
// headers of a window use it. Throws std::invalid_argument naming two channels whose rates differ
// (an archive may hold streams at different rates, SPEC §4.1).
double window_rate(const format::Metadata& meta, std::span<const std::uint32_t> channels);

// The inverse, compact: ascending channels as "0-31,40".
std::string format_channel_list(const std::vector<std::uint32_t>& channels);

// Seconds to a sample index: nearest sample, halves away from zero.
std::uint64_t seconds_to_sample(double seconds, double sample_rate);

struct Window {
  std::uint64_t start = 0;  // first sample
  std::uint64_t end = 0;    // one past the last sample, clipped to the shortest requested channel
  std::vector<std::uint32_t> channels;  // output column order
  bool clipped = false;     // end was reduced to fit the channels
  std::uint64_t frames() const { return end - start; }
};

// Checks and clips a request (empty `channels` means time_series_channels). Throws
// std::invalid_argument when the window is empty after clipping, a channel does not exist, or
// snippet channels are mixed with others.
Window resolve_window(const format::Metadata& metadata, std::uint64_t start, std::uint64_t end,
                      std::vector<std::uint32_t> channels);

// The window as interleaved samples [frame][channel].
// Chunks whose payload failed its checksum (version 10) still give the requested channels when
// those, and their sources, pass their stream checks; such chunks are added to `damaged_chunks`.
std::vector<std::int16_t> read_window(const format::ArchiveReader& reader, const Window& window, unsigned threads,
                                      std::vector<std::uint64_t>* damaged_chunks = nullptr);
// The same into `out`, which holds exactly frames x channels values (a NumPy array's buffer: no
// copy on the way); throws std::invalid_argument otherwise.
void read_window_into(const format::ArchiveReader& reader, const Window& window, unsigned threads, std::span<std::int16_t> out,
                      std::vector<std::uint64_t>* damaged_chunks = nullptr);

// Writes the window to `path` in `format`, streaming chunk by chunk, under a temporary name.
void write_window(const format::ArchiveReader& reader, const Window& window, WindowFileFormat format,
                  const std::filesystem::path& path, bool overwrite, unsigned threads,
                  std::vector<std::uint64_t>* damaged_chunks = nullptr);

// The .npy v1.0 header of an int16 [frames, channels] C-order array.
std::vector<std::uint8_t> npy_header(std::uint64_t frames, std::uint64_t channels);

}  // namespace spikey::host
