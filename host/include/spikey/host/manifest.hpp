// Batch manifests (`spikey batch`): one recording per line, each archived on its own under an
// output root at a path derived from the input, so that any shard of any run finds the same
// archive again (resume, idempotence).
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace spikey::host {

struct ManifestEntry {
  std::size_t line = 0;                // 1-based line of the manifest
  std::filesystem::path input;         // absolute and normalised (relative lines: from the manifest's folder)
  std::vector<std::string> options;    // the rest of the line, as tokens ("--level max", ...)
};

// Reads a manifest: one input per line (a file, a directory of WAVs or a recording folder),
// optionally followed by compress options; blank lines and lines starting with '#' are skipped.
// Tokens are separated by blanks; double quotes keep blanks inside one token. Throws InputError
// naming the manifest and the line for an unterminated quote.
std::vector<ManifestEntry> read_manifest(const std::filesystem::path& manifest);

// "--shard I/N": entries at positions I, I+N, I+2N, ... (0 <= I < N). Throws std::invalid_argument.
struct Shard {
  std::size_t index = 0;
  std::size_t count = 1;
  bool contains(std::size_t position) const { return position % count == index; }
};
Shard parse_shard(const std::string& text);

// OUTROOT / (the input's absolute path without its root) + ".spikey": stable across runs,
// shards and machines that mount the data at the same place, and distinct for distinct inputs.
std::filesystem::path archive_path_for(const std::filesystem::path& output_root, const std::filesystem::path& input);

// The entry's JSON report, next to its archive.
std::filesystem::path report_path_for(const std::filesystem::path& archive);

}  // namespace spikey::host
