// Random-access archive reader (SPEC.md §3, §7). Opening reads and validates the header,
// footer, metadata and index only; chunk payloads are read on demand, so a time window
// costs the footer, the index and the chunks it overlaps. Thread-safe after construction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
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
  // The verbatim area (§4.2), which only a restore needs: from version 15 the metadata
  // section's frames after the first are decompressed on the first call (which throws
  // ArchiveError when they do not read back).
  const std::vector<std::uint8_t>& verbatim() const;
  const std::vector<IndexEntry>& index() const { return index_; }
  std::uint64_t file_size() const { return file_size_; }
  std::uint16_t format_version() const { return format_version_; }
  // Damage that opening worked around (version 10: a damaged header or metadata section read
  // from the metadata copy, or a damaged copy); empty for an intact archive. verify reports it.
  const std::vector<std::string>& damage() const { return damage_; }
  const std::filesystem::path& path() const { return path_; }
  // The header's XXH3-64 of the metadata section that metadata() was read from; nullopt when
  // that section was damaged and the metadata copy was read instead (§3.7).
  std::optional<std::uint64_t> metadata_checksum() const { return metadata_checksum_; }

  // Reads chunk `chunk`'s payload; checks its checksum (and, before version 4, its record header
  // against the index). With `damaged` (version 10), a payload that fails its checksum or frame
  // is returned anyway and *damaged set: the reader of a window then trusts each channel it
  // decodes only after its stream check (SPEC.md §6.3).
  std::vector<std::uint8_t> read_payload(std::uint64_t chunk, bool* damaged = nullptr) const;

  // File offset of the first payload byte of `chunk`, for error messages.
  std::uint64_t payload_offset(std::uint64_t chunk) const { return index_[chunk].record_offset + chunk_header_size(format_version_); }

 private:
  void read_at(std::uint64_t offset, std::uint8_t* out, std::uint64_t size) const;

  std::filesystem::path path_;
  void open_sections();
  // §3.7: checks the metadata copy against `header`, or, without one, reads the metadata from
  // it. Returns why it is not usable, or an empty string.
  std::string read_metadata_copy(const std::optional<Footer>& footer, const FileHeader* header);
  int fd_ = -1;                       // the archive file, or -1 when it is held in `memory_`
  std::vector<std::uint8_t> memory_;
  std::uint64_t file_size_ = 0;
  std::uint16_t format_version_ = 0;
  mutable MetadataSection section_;  // verbatim: loaded in full by verbatim()
  std::uint64_t verbatim_size_ = 0;    // of the whole verbatim area
  struct StoredSection {
    std::uint64_t offset = 0, size = 0, checksum = 0;
  } verbatim_stored_;  // the section whose later frames verbatim() decompresses
  mutable std::once_flag verbatim_loaded_;
  std::uint64_t metadata_size_ = 0;  // bytes of the stored metadata section
  std::optional<std::uint64_t> metadata_checksum_;
  std::optional<std::uint64_t> copy_size_;  // bytes of the metadata copy, when its trailer was read
  std::vector<std::string> damage_;
  std::vector<IndexEntry> index_;
};

}  // namespace spikey::format
