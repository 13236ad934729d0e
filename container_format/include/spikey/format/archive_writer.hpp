// Sequential archive writer (SPEC.md §3): header and metadata, then chunk records in order,
// then the metadata copy, index and footer. It writes to the path it is given; the caller writes to a temporary
// name and renames when the archive is complete and verified.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <vector>

#include "spikey/format/archive.hpp"

namespace spikey::format {

class ArchiveWriter {
 public:
  // Creates `path` exclusively (fails if it exists) and writes header and metadata.
  // `frames`: how the metadata section and its copy are split into zstd frames (§3.3).
  // `metadata` must outlive the writer (finish() stores its copy).
  ArchiveWriter(const std::filesystem::path& path, const MetadataSection& metadata, const MetadataFrameOptions& frames = {});
  // Writes the archive into memory instead (take_bytes() after finish()).
  explicit ArchiveWriter(const MetadataSection& metadata, const MetadataFrameOptions& frames = {});
  ~ArchiveWriter();
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  // Chunks must be appended in order 0, 1, 2, ... with the time ranges the metadata implies.
  void append_chunk(std::uint64_t first_sample, std::uint32_t sample_count, std::span<const std::uint8_t> payload,
                    std::uint64_t samples_checksum);

  // A chunk a salvage could not recover: an index entry with no record (SPEC.md §3.5).
  void append_lost_chunk(std::uint64_t first_sample, std::uint32_t sample_count);
  // Writes the metadata copy, index and footer, flushes and syncs. Returns the archive size in bytes.
  std::uint64_t finish();
  // The archive written in memory (the memory constructor, after finish()).
  std::vector<std::uint8_t> take_bytes() { return std::move(memory_); }
  // The metadata section as stored after the header (verification reads it back as a reader would).
  const std::vector<std::uint8_t>& stored_section() const { return section_; }

 private:
  void write_bytes(std::span<const std::uint8_t> bytes);
  void write_start(const MetadataSection& metadata, const MetadataFrameOptions& frames);

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;          // null: the archive goes to memory_
  std::vector<std::uint8_t> memory_;
  std::uint64_t offset_ = 0;
  std::vector<std::uint8_t> section_;  // the stored metadata section
  // Its copy before the index (§3.7: without side files' bytes) is stored by finish(), from
  // these: the caller's metadata outlives the writer.
  const MetadataSection* metadata_ = nullptr;
  MetadataFrameOptions frames_;
  std::vector<IndexEntry> index_;
};

}  // namespace spikey::format
