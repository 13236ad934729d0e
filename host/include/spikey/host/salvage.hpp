// Salvage (SPEC.md §8): rebuilds a valid archive from a truncated or damaged one, keeping every
// chunk whose frame and payload are intact, and (version 10) every channel of a damaged chunk
// that matches its stream check. Chunks are found by scanning for their frames, so a damaged or
// missing index and footer cost nothing; what could not be recovered becomes lost chunks
// (format version 5) or lost streams (version 10) and is reported as channels x time ranges.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace spikey::host {

struct LostRange {
  std::uint64_t first_chunk = 0, end_chunk = 0;    // [first_chunk, end_chunk)
  std::uint64_t first_sample = 0, end_sample = 0;  // [first_sample, end_sample) of every channel in them
  std::vector<std::uint32_t> channels;             // channels that lost samples there, ascending
};

struct SalvageReport {
  std::uint64_t chunks = 0;     // chunks of the recording
  std::uint64_t recovered = 0;  // chunks kept whole
  std::uint64_t partial = 0;    // chunks kept with some of their channels lost (version 10 stream checks)
  std::uint64_t lost = 0;       // chunks lost whole
  std::uint64_t lost_streams = 0;      // (chunk, channel) pairs lost, in lost and in partial chunks
  // Lost samples merged into ranges of chunks with the same lost channels.
  std::vector<LostRange> lost_ranges;
  std::vector<std::string> incomplete_files;  // source files with samples in lost chunks
  std::vector<std::string> lost_files;        // side files only the damaged metadata section held (version 11's copy leaves them out)
  double sample_rate = 0;
  std::uint64_t input_bytes = 0, output_bytes = 0;
  std::vector<std::string> notes;  // what was damaged and how it was worked around
};

struct SalvageOptions {
  bool overwrite = false;
  unsigned threads = 1;
};

// Reads `damaged` (never modifies it) and writes `output` under a temporary name, renamed into
// place only after the new archive decoded and every file without lost samples matched its
// original checksum. Throws format::ArchiveError when nothing can be salvaged (a damaged
// metadata section: it holds the parameters every chunk needs).
SalvageReport salvage_archive(const std::filesystem::path& damaged, const std::filesystem::path& output, const SalvageOptions& options);

}  // namespace spikey::host
