#include "spikey/host/window.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "spikey/host/decoder.hpp"
#include "spikey/host/output_file.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/wav.hpp"
#include "transpose.hpp"

namespace spikey::host {

namespace fs = std::filesystem;

WindowFileFormat window_format_for(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".bin" || ext == ".raw" || ext == ".dat") return WindowFileFormat::bin;
  if (ext == ".wav") return WindowFileFormat::wav;
  if (ext == ".npy") return WindowFileFormat::npy;
  throw std::invalid_argument("cannot tell the output format from \"" + path.filename().string() +
                              "\": use a .bin, .wav or .npy file name");
}

std::vector<std::uint32_t> parse_channel_list(const std::string& text, const std::vector<std::string>& names) {
  const std::size_t channel_count = names.size();
  std::vector<std::uint32_t> channels;
  const auto bad = [&](const std::string& why) { return std::invalid_argument("--channels \"" + text + "\": " + why); };
  const auto named = [&](const std::string& s) -> std::int64_t {
    const auto it = std::find(names.begin(), names.end(), s);
    return it == names.end() ? -1 : it - names.begin();
  };
  // Digits are a channel number, anything else a channel's name (SpikeGLX "AP12", "SY0"; Open Ephys "CH3").
  const auto channel = [&](const std::string& s) -> std::uint64_t {
    if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
      if (s.size() > 10) throw bad("channel " + s + " does not exist");
      const std::uint64_t v = std::stoull(s);
      if (v >= channel_count)
        throw bad("channel " + s + " does not exist (the archive has " + std::to_string(channel_count) + " channels, 0.." +
                  std::to_string(channel_count == 0 ? 0 : channel_count - 1) + ")");
      return v;
    }
    if (const auto c = named(s); c >= 0) return static_cast<std::uint64_t>(c);
    throw bad("\"" + s + "\" is neither a channel number nor a channel name" +
              (channel_count > 0 ? " (names look like \"" + names.front() + "\"; spikey info lists them)" : std::string()));
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const std::size_t dash = item.find('-');
    // A whole name wins over reading it as a range ("odd-name"); digits are always a number.
    const bool digits = !item.empty() && item.find_first_not_of("0123456789") == std::string::npos;
    if (const auto whole = digits ? -1 : named(item); whole >= 0 || dash == std::string::npos) {
      channels.push_back(static_cast<std::uint32_t>(whole >= 0 ? static_cast<std::uint64_t>(whole) : channel(item)));
    } else {
      const std::uint64_t lo = channel(item.substr(0, dash));
      const std::uint64_t hi = channel(item.substr(dash + 1));
      if (hi < lo) throw bad("range " + item + " runs backwards");
      for (std::uint64_t c = lo; c <= hi; ++c) channels.push_back(static_cast<std::uint32_t>(c));
    }
    start = comma + 1;
  }
  return channels;
}

std::vector<std::uint32_t> time_series_channels(const format::Metadata& meta) {
  std::vector<std::uint32_t> channels;
  for (std::uint32_t c = 0; c < meta.channels.size(); ++c)
    if (!meta.snippet_channel(c)) channels.push_back(c);
  return channels;
}

namespace {

// A snippet channel's sample index counts waveforms one after another, not time (SPEC §4.2):
// such channels are read alone.
void require_one_kind(const format::Metadata& meta, std::span<const std::uint32_t> channels) {
  if (channels.empty() || channels.front() >= meta.channels.size()) return;  // resolve_window names a missing channel
  const bool first = meta.snippet_channel(channels.front());
  for (const auto c : channels) {
    if (c >= meta.channels.size()) continue;
    const bool other = meta.snippet_channel(c);
    if (first != other)
      throw std::invalid_argument("channel " + meta.channels[channels.front()].name + (first ? " holds" : " does not hold") +
                                  " spike waveforms (snippets) and channel " + meta.channels[c].name + (other ? " does" : " does not") +
                                  ": their samples do not line up in time; read them separately");
  }
}

}  // namespace

double window_rate(const format::Metadata& meta, std::span<const std::uint32_t> named) {
  require_one_kind(meta, named);
  const std::vector<std::uint32_t> every = named.empty() ? time_series_channels(meta) : std::vector<std::uint32_t>{};
  const std::span<const std::uint32_t> channels = named.empty() ? std::span<const std::uint32_t>(every) : named;
  if (channels.empty()) return meta.sample_rate;
  const double rate = meta.channel_rate(channels[0]);
  for (std::size_t i = 1; i < channels.size(); ++i) {
    if (meta.channel_rate(channels[i]) == rate) continue;
    std::ostringstream why;
    why << "channels " << meta.channels[channels[0]].name << " (" << rate << " Hz) and " << meta.channels[channels[i]].name << " ("
        << meta.channel_rate(channels[i]) << " Hz) have different sample rates: read them separately";
    throw std::invalid_argument(why.str());
  }
  return rate;
}

std::string format_channel_list(const std::vector<std::uint32_t>& channels) {
  std::string text;
  for (std::size_t i = 0; i < channels.size();) {
    std::size_t j = i;
    while (j + 1 < channels.size() && channels[j + 1] == channels[j] + 1) ++j;
    if (!text.empty()) text += ",";
    text += std::to_string(channels[i]);
    if (j > i) {  // appended in turn: GCC 12 reads "-" + std::to_string(...) as an overlapping copy
      text += '-';
      text += std::to_string(channels[j]);
    }
    i = j + 1;
  }
  return text;
}

std::uint64_t seconds_to_sample(double seconds, double sample_rate) {
  if (!std::isfinite(seconds) || seconds < 0) throw std::invalid_argument("times must be non-negative seconds");
  const double samples = std::round(seconds * sample_rate);
  if (samples >= 9.2e18) throw std::invalid_argument("time is out of range");
  return static_cast<std::uint64_t>(samples);
}

Window resolve_window(const format::Metadata& metadata, std::uint64_t start, std::uint64_t end, std::vector<std::uint32_t> channels) {
  Window w;
  if (channels.empty()) {
    channels = time_series_channels(metadata);
    if (channels.empty() && !metadata.channels.empty())
      throw std::invalid_argument("the archive holds spike waveforms (snippets) only, no time series: name their channels to read them");
  }
  if (channels.empty()) throw std::invalid_argument("the archive has no channels");
  std::uint64_t shortest = UINT64_MAX;
  for (const auto c : channels) {
    if (c >= metadata.channels.size()) throw std::invalid_argument("channel " + std::to_string(c) + " does not exist");
    shortest = std::min(shortest, metadata.channels[c].length);
  }
  require_one_kind(metadata, channels);
  if (shortest == 0) throw std::runtime_error("nothing to extract: the requested channels hold no samples");
  if (end <= start) throw std::invalid_argument("the window is empty: end must be after start");
  w.start = start;
  w.end = std::min(end, shortest);
  w.clipped = w.end < end;
  w.channels = std::move(channels);
  if (w.end <= w.start)
    throw std::invalid_argument("the window starts at sample " + std::to_string(start) +
                                ", at or after the end of the requested channels (" + std::to_string(shortest) + " samples)");
  return w;
}

namespace {

// Decodes the window chunk by chunk, interleaves each chunk's frames [from, from + frames) of the
// window into place(from, frames), which holds frames x channels values, and hands that to
// `sink`, in time order.
using PlaceFrames = std::function<std::span<std::int16_t>(std::uint64_t from, std::size_t frames)>;
void stream_window(const format::ArchiveReader& reader, const Window& w, unsigned threads, const PlaceFrames& place,
                   const std::function<void(std::span<const std::int16_t>)>& sink, std::vector<std::uint64_t>* damaged_chunks) {
  const format::Metadata& meta = reader.metadata();
  std::vector<std::uint32_t> unique = w.channels;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  const std::uint64_t first_chunk = w.start / meta.chunk_samples;
  const std::uint64_t end_chunk = (w.end + meta.chunk_samples - 1) / meta.chunk_samples;
  struct ColumnRun {  // output columns [begin, end), their rows `stride` samples apart from `first`
    std::size_t begin = 0, end = 0;
    const std::int16_t* first = nullptr;
    std::size_t stride = 0;
  };
  std::vector<ColumnRun> columns;
  constexpr std::size_t kParallelInterleave = std::size_t{1} << 20;  // samples of a piece worth threads
  decode_chunks_in_order(reader, first_chunk, end_chunk, unique, threads, [&](const DecodedChunk& chunk) {
    if (chunk.payload_damaged && damaged_chunks != nullptr) damaged_chunks->push_back(chunk.chunk);
    const std::uint64_t from = std::max(w.start, chunk.first_sample);
    const std::uint64_t to = std::min(w.end, chunk.first_sample + meta.chunk_sample_count(chunk.chunk));
    const std::size_t k = w.channels.size(), frames = to - from;
    const std::span<std::int16_t> piece = place(from - w.start, frames);
    if (piece.size() != frames * k) throw std::logic_error("stream_window: the place for a chunk's frames has the wrong size");
    // Columns whose rows lie one after another in the chunk (a window of ascending channels: all
    // of them) are transposed in register blocks; value by value, 1024 channels interleaved
    // slower than they decode on a few threads. Large pieces in time slices on the threads.
    columns.clear();
    for (std::size_t j = 0; j < k; ++j) {
      const auto samples = chunk.channel_samples(w.channels[j]);
      if (!columns.empty()) {
        ColumnRun& run = columns.back();
        if (samples.size() == run.stride && samples.data() == run.first + (j - run.begin) * run.stride) {
          run.end = j + 1;
          continue;
        }
      }
      columns.push_back({j, j + 1, samples.data(), samples.size()});
    }
    const std::size_t slices = frames * k >= kParallelInterleave ? std::min<std::size_t>(std::max(1u, threads), frames) : 1;
    parallel_for(slices, static_cast<unsigned>(slices), [&](std::size_t slice) {
      const std::size_t begin = frames * slice / slices, end = frames * (slice + 1) / slices;
      const std::uint64_t offset = from - chunk.first_sample + begin;
      for (const ColumnRun& run : columns)
        transpose_int16(reinterpret_cast<const std::uint8_t*>(run.first + offset), run.stride, run.end - run.begin, end - begin,
                        piece.data() + begin * k + run.begin, k);
    });
    sink(piece);
  }, {.tolerate_damaged_payload = true});
}

}  // namespace

void read_window_into(const format::ArchiveReader& reader, const Window& window, unsigned threads, std::span<std::int16_t> out,
                      std::vector<std::uint64_t>* damaged_chunks) {
  const std::size_t k = window.channels.size();
  if (out.size() != window.frames() * k)
    throw std::invalid_argument("read_window_into: the output holds " + std::to_string(out.size()) + " values, the window " +
                                std::to_string(window.frames() * k));
  stream_window(
      reader, window, threads, [&](std::uint64_t from, std::size_t frames) { return out.subspan(from * k, frames * k); },
      [](std::span<const std::int16_t>) {}, damaged_chunks);
}

std::vector<std::int16_t> read_window(const format::ArchiveReader& reader, const Window& window, unsigned threads,
                                      std::vector<std::uint64_t>* damaged_chunks) {
  std::vector<std::int16_t> out(window.frames() * window.channels.size());
  read_window_into(reader, window, threads, out, damaged_chunks);
  return out;
}

std::vector<std::uint8_t> npy_header(std::uint64_t frames, std::uint64_t channels) {
  std::string dict = "{'descr': '<i2', 'fortran_order': False, 'shape': (" + std::to_string(frames) + ", " +
                     std::to_string(channels) + "), }";
  // Magic (6) + version (2) + length (2) + dict, padded with spaces and a newline to a multiple of 64.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict.push_back('\n');
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(static_cast<std::uint8_t>(dict.size() & 0xff));
  out.push_back(static_cast<std::uint8_t>(dict.size() >> 8));
  out.insert(out.end(), dict.begin(), dict.end());
  return out;
}

void write_window(const format::ArchiveReader& reader, const Window& window, WindowFileFormat format, const fs::path& path,
                  bool overwrite, unsigned threads, std::vector<std::uint64_t>* damaged_chunks) {
  OutputFile out(path, overwrite);
  const std::uint64_t k = window.channels.size();
  if (format == WindowFileFormat::wav) {
    const double rate = std::round(window_rate(reader.metadata(), window.channels));
    if (rate < 1 || rate > 4294967295.0) throw std::invalid_argument("sample rate cannot be written to a WAV header");
    if (k > 65535) throw std::invalid_argument("a WAV file holds at most 65535 channels");
    out.write(wav_header(static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(rate), window.frames()));
  } else if (format == WindowFileFormat::npy) {
    out.write(npy_header(window.frames(), k));
  }
  std::vector<std::int16_t> piece;
  stream_window(
      reader, window, threads,
      [&](std::uint64_t, std::size_t frames) {
        piece.resize(frames * k);
        return std::span<std::int16_t>(piece);
      },
      [&](std::span<const std::int16_t> frames) { out.write({reinterpret_cast<const std::uint8_t*>(frames.data()), frames.size() * 2}); },
      damaged_chunks);
  out.commit();
}

}  // namespace spikey::host
