// Random-access archive reader (SPEC.md §3, §7). Opening reads and validates the header,
// footer, metadata and index only; chunk payloads are read on demand, so a time window
// costs the footer, the index and the chunks it overlaps. Thread-safe after construction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "spikey/format/archive.hpp"

namespace spikey::format {

class ArchiveReader {
 public:
  explicit ArchiveReader(const std::filesystem::path& path);  // throws ArchiveError / std::runtime_error
  // Reads an archive held in memory (`name` stands for the path in messages): damage tests and
  // fuzzing open many variants without touching the disk.
  ArchiveReader(std::vector<std::uint8_t> bytes, const std::string& name);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  const Metadata& metadata() const { return section_.metadata; }
  const std::vector<std::uint8_t>& verbatim() const { return section_.verbatim; }
  const std::vector<IndexEntry>& index() const { return index_; }
  std::uint64_t file_size() const { return file_size_; }
  std::uint16_t format_version() const { return format_version_; }
  const std::filesystem::path& path() const { return path_; }

  // Reads chunk `chunk`'s payload; checks its checksum (and, before version 4, its record header
  // against the index).
  std::vector<std::uint8_t> read_payload(std::uint64_t chunk) const;

  // File offset of the first payload byte of `chunk`, for error messages.
  std::uint64_t payload_offset(std::uint64_t chunk) const { return index_[chunk].record_offset + chunk_header_size(format_version_); }

 private:
  void read_at(std::uint64_t offset, std::uint8_t* out, std::uint64_t size) const;

  std::filesystem::path path_;
  void open_sections();
  int fd_ = -1;                       // the archive file, or -1 when it is held in `memory_`
  std::vector<std::uint8_t> memory_;
  std::uint64_t file_size_ = 0;
  std::uint16_t format_version_ = 0;
  MetadataSection section_;
  std::vector<IndexEntry> index_;
};

}  // namespace spikey::format
