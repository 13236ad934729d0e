// Fuzz target: archive reader and CPU decoder, every codec. The input is an archive whose
// checksums are repaired first (checksum_repair.hpp), so mutations reach the metadata parser,
// the index checks and every chunk decoder. A well-formed failure is a format::ArchiveError;
// anything else (a crash, a sanitizer report, another exception, a hang) is a bug.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <cstdint>
#include <vector>

#include "checksum_repair.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/salvage.hpp"
#include "spikey/host/window.hpp"

using namespace spikey;

namespace {
// A decoder allocates what the metadata declares for a chunk (chunk_samples up to 2^32, as an
// encoder may write); the fuzzer's memory limit is not the property under test, so archives
// declaring more than this many samples per chunk are only opened.
constexpr std::uint64_t kMaxFuzzedChunkSamples = std::uint64_t{1} << 22;

bool small_enough(const format::ArchiveReader& reader) {
  return reader.metadata().chunk_samples * std::max<std::size_t>(reader.metadata().channels.size(), 1) <= kMaxFuzzedChunkSamples;
}
// Salvage of the bytes as mutated (SPEC.md §8): metadata from the header, after a damaged
// header, or from the copy; frames found by scanning; damaged payloads kept stream by stream.
// It reads and writes files, so it runs on archives small enough to decode.
void salvage_mutated(const std::uint8_t* data, std::size_t size) {
  // The process's scratch folder, removed when the run exits normally (a crash leaves it).
  struct ScratchFolder {
    std::filesystem::path path = std::filesystem::temp_directory_path() / ("spikey-fuzz-salvage-" + std::to_string(::getpid()));
    ScratchFolder() { std::filesystem::create_directories(path); }
    ~ScratchFolder() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const ScratchFolder scratch;
  const std::filesystem::path& dir = scratch.path;
  {
    std::vector<std::uint8_t> bytes(data, data + size);
    try {
      if (!small_enough(format::ArchiveReader(bytes, "fuzz.spikey"))) return;
    } catch (const format::ArchiveError&) {
      // Unreadable as it stands: what salvage is for. Its own bounds apply.
    }
    std::ofstream(dir / "in.spikey", std::ios::binary).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    host::salvage_archive(dir / "in.spikey", dir / "out.spikey", {true, 1});
  } catch (const format::ArchiveError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> bytes(data, data + size);
  fuzz::repair_checksums(bytes);
  try {
    const format::ArchiveReader reader(std::move(bytes), "fuzz.spikey");
    if (!small_enough(reader)) return 0;
    // Whole-archive restore (verify): every chunk, all channels, file checksums.
    host::RestoreOptions options;
    options.fill_lost = true;  // salvaged archives: lost chunks as zeros
    host::restore_sources(reader, options);
  } catch (const format::ArchiveError&) {
  }
  // Random access: one channel of the last chunk, and a window, even when the restore failed
  // on an earlier chunk (archives are repaired again since the reader took the bytes).
  std::vector<std::uint8_t> again(data, data + size);
  fuzz::repair_checksums(again);
  try {
    const format::ArchiveReader reader(std::move(again), "fuzz.spikey");
    const auto& meta = reader.metadata();
    if (!small_enough(reader) || reader.index().empty() || meta.channels.empty()) return 0;
    const std::uint32_t channel = static_cast<std::uint32_t>(meta.channels.size() - 1);
    try {
      host::decode_chunk(reader, reader.index().size() - 1, std::vector<std::uint32_t>{channel});
    } catch (const format::ArchiveError&) {
    }
    const std::uint64_t length = meta.channels[0].length;
    if (length > 0) {
      const auto window = host::resolve_window(meta, length / 3, length, {0});
      host::read_window(reader, window, 1);
    }
  } catch (const format::ArchiveError&) {
  }
  // The bytes as mutated, checksums not repaired: the metadata copy fallback (version 10) and a
  // window's stream checks over a payload that fails its checksum.
  try {
    const format::ArchiveReader reader(std::vector<std::uint8_t>(data, data + size), "fuzz.spikey");
    const auto& meta = reader.metadata();
    if (!small_enough(reader) || reader.index().empty() || meta.channels.empty() || meta.channels[0].length == 0) return 0;
    host::read_window(reader, host::resolve_window(meta, 0, meta.channels[0].length, {0}), 1);
  } catch (const format::ArchiveError&) {
  }
  salvage_mutated(data, size);
  return 0;
}
