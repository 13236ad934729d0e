#include "spikey/format/archive_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>

#include "spikey/format/checksum.hpp"

namespace spikey::format {

namespace {
[[noreturn]] void fail(const std::string& message) { throw ArchiveError(message); }
std::string at(std::uint64_t offset) { return " (byte " + std::to_string(offset) + ")"; }
}  // namespace

ArchiveReader::ArchiveReader(const std::filesystem::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw std::runtime_error(path.string() + " is not a regular file");
  }
  file_size_ = static_cast<std::uint64_t>(st.st_size);
  try {
    open_sections();
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

ArchiveReader::ArchiveReader(std::vector<std::uint8_t> bytes, const std::string& name)
    : path_(name), memory_(std::move(bytes)) {
  file_size_ = memory_.size();
  open_sections();
}

void ArchiveReader::open_sections() {
  if (file_size_ < 8) fail("not a Spikey archive (file is " + std::to_string(file_size_) + " bytes)");
  std::vector<std::uint8_t> head(std::min<std::uint64_t>(file_size_, kFileHeaderSize));
  read_at(0, head.data(), head.size());
  std::optional<FileHeader> header;
  std::string header_error;
  try {
    header = parse_file_header(head);
  } catch (const ArchiveError& e) {
    // Version 10 can still be read from its metadata copy (§3.7) when the footer is intact.
    if (file_size_ < kFileHeaderSize + kFooterSize) throw;
    header_error = e.what();
  }
  if (file_size_ < kFileHeaderSize + kFooterSize)
    fail("archive is truncated: " + std::to_string(file_size_) + " bytes is less than header and footer");

  std::vector<std::uint8_t> tail(kFooterSize);
  read_at(file_size_ - kFooterSize, tail.data(), tail.size());
  std::optional<Footer> footer;
  std::string footer_error;
  try {
    footer = parse_footer(tail);
  } catch (const ArchiveError& e) {
    footer_error = std::string(e.what()) + at(file_size_ - kFooterSize);
  }

  // The primary metadata section, then (version 10) the copy before the index.
  std::string primary_error = header_error;
  if (header) {
    format_version_ = header->format_version;
    const std::uint64_t end = kFileHeaderSize + header->metadata_size;
    if (header->metadata_size > file_size_ || end > file_size_ - kFooterSize) {
      primary_error = "archive is truncated: metadata section runs past the end of the file";
    } else {
      std::vector<std::uint8_t> section(header->metadata_size);
      read_at(kFileHeaderSize, section.data(), section.size());
      if (checksum64(section) != header->metadata_checksum) {
        primary_error = "metadata checksum mismatch" + at(kFileHeaderSize);
      } else {
        // The JSON and the first frame's verbatim bytes; a restore loads the rest (verbatim()).
        MetadataHead parsed = parse_metadata_head(section, header->format_version);
        section_ = std::move(parsed.section);
        verbatim_size_ = parsed.verbatim_size;
        verbatim_stored_ = {kFileHeaderSize, header->metadata_size, header->metadata_checksum};
        metadata_size_ = header->metadata_size;
        metadata_checksum_ = header->metadata_checksum;
      }
    }
  }
  const bool primary_ok = primary_error.empty();
  if (!primary_ok || format_version_ >= kFirstVersionWithMetadataCopy) {
    const std::string copy_error = read_metadata_copy(footer, primary_ok ? &*header : nullptr);
    if (!primary_ok && !copy_error.empty()) {
      if (!footer) fail(primary_error);
      fail(primary_error + (format_version_ >= kFirstVersionWithMetadataCopy || !header ? "; its copy is not usable either: " + copy_error : ""));
    }
    if (!primary_ok) {
      damage_.push_back((header ? primary_error : "file header damaged (" + primary_error + ")") + "; the metadata copy before the index was used");
      std::size_t omitted = 0;
      for (const auto& s : section_.metadata.sources) omitted += s.omitted ? 1 : 0;
      if (omitted > 0)
        damage_.push_back(std::to_string(omitted) + " side file(s) cannot be restored (the copy keeps no side files' bytes), the first " +
                          std::find_if(section_.metadata.sources.begin(), section_.metadata.sources.end(), [](const SourceFile& s) { return s.omitted; })->path);
    }
    else if (!copy_error.empty()) damage_.push_back("metadata copy damaged (" + copy_error + "); the metadata section itself is intact");
  }
  if (!footer) fail(footer_error);
  const std::uint64_t metadata_end = kFileHeaderSize + metadata_size_;
  // Version 11's copy has its own size (its trailer's); when that copy is damaged, where the
  // records end is not known, and the records are checked only up to the index.
  const bool copy_sized = format_version_ < kFirstVersionWithRecords || copy_size_.has_value();
  const std::uint64_t copy_bytes = format_version_ < kFirstVersionWithRecords ? metadata_copy_bytes(format_version_, metadata_size_)
                                   : copy_size_ ? *copy_size_ + kMetadataTrailerSize
                                                : 0;
  const std::uint64_t records_end = footer->index_offset - std::min(footer->index_offset, copy_bytes);
  const Metadata& m = section_.metadata;

  if (footer->chunk_count != m.chunk_count())
    fail("index holds " + std::to_string(footer->chunk_count) + " chunks but the metadata implies " +
         std::to_string(m.chunk_count()));
  const std::size_t entry_size = index_entry_size(format_version_);
  const std::uint64_t index_size = footer->chunk_count * entry_size;
  if (footer->chunk_count > file_size_ / entry_size || records_end < metadata_end ||
      footer->index_offset + index_size + kFooterSize != file_size_)
    fail("index position in the footer does not match the file size" + at(file_size_ - kFooterSize));
  std::vector<std::uint8_t> index_bytes(index_size);
  read_at(footer->index_offset, index_bytes.data(), index_bytes.size());
  if (checksum64(index_bytes) != footer->index_checksum) fail("index checksum mismatch" + at(footer->index_offset));
  index_ = parse_index(index_bytes, format_version_);

  // The chunk records must tile the bytes between metadata and index exactly.
  const std::uint64_t header_size = chunk_header_size(format_version_);
  std::uint64_t expected_offset = metadata_end;
  for (std::uint64_t i = 0; i < index_.size(); ++i) {
    IndexEntry& e = index_[i];
    const std::uint64_t first = m.chunk_first_sample(i);
    const std::uint32_t count = m.chunk_sample_count(i);
    if (format_version_ >= 4) e.first_sample = first, e.sample_count = count, e.record_offset = expected_offset;
    if (e.lost()) {  // version 5: a chunk lost before a salvage has no record
      if (format_version_ < 5 || e.samples_checksum != 0)
        fail("index entry for chunk " + std::to_string(i) + " has an empty payload" + at(footer->index_offset + i * entry_size));
      continue;
    }
    const bool record_fits = expected_offset + header_size <= records_end &&
                             e.payload_size <= records_end - expected_offset - header_size;
    if (e.first_sample != first || e.sample_count != count || e.record_offset != expected_offset || !record_fits)
      fail("index entry for chunk " + std::to_string(i) + " is inconsistent" + at(footer->index_offset + i * entry_size));
    expected_offset += header_size + e.payload_size;
  }
  if (copy_sized ? expected_offset != records_end : expected_offset > records_end)
    fail(std::string("chunk records do not end where the ") + (records_end != footer->index_offset ? "metadata copy" : "index") + " starts" +
         at(expected_offset));
}

std::string ArchiveReader::read_metadata_copy(const std::optional<Footer>& footer, const FileHeader* header) {
  if (!footer) return "the footer is damaged";
  if (footer->index_offset < kFileHeaderSize + kMetadataTrailerSize || footer->index_offset > file_size_ - kFooterSize)
    return "the footer's index offset leaves no room for it";
  const std::uint64_t trailer_at = footer->index_offset - kMetadataTrailerSize;
  std::vector<std::uint8_t> trailer_bytes(kMetadataTrailerSize);
  read_at(trailer_at, trailer_bytes.data(), trailer_bytes.size());
  MetadataTrailer trailer;
  try {
    trailer = parse_metadata_trailer(trailer_bytes);
  } catch (const ArchiveError& e) {
    return e.what() + at(trailer_at);
  }
  if (trailer.metadata_size > trailer_at - kFileHeaderSize) return "its trailer's size does not fit the file" + at(trailer_at);
  // Up to version 10 the copy is the metadata section byte for byte; from 11 it leaves out the
  // side files' bytes, so it has its own size and checksum.
  if (header != nullptr && header->format_version < kFirstVersionWithRecords &&
      (trailer.metadata_size != header->metadata_size || trailer.metadata_checksum != header->metadata_checksum))
    return "its trailer does not match the file header" + at(trailer_at);
  const std::uint64_t copy_at = trailer_at - trailer.metadata_size;
  std::vector<std::uint8_t> copy(trailer.metadata_size);
  read_at(copy_at, copy.data(), copy.size());
  if (checksum64(copy) != trailer.metadata_checksum) return "checksum mismatch" + at(copy_at);
  copy_size_ = trailer.metadata_size;
  if (header != nullptr) return {};  // the primary section is in use; the copy only had to check
  // The header is unusable: the copy's JSON names the version (only version 10 on has a copy).
  std::string last_error;
  for (std::uint16_t version = kFormatVersion; version >= kFirstVersionWithMetadataCopy; --version) {
    try {
      section_ = parse_metadata_section(copy, version);
      verbatim_size_ = section_.verbatim.size();
      format_version_ = version;
      metadata_size_ = copied_section_size(version, trailer.metadata_size, section_.metadata);
      if (metadata_size_ == 0 || metadata_size_ > copy_at - kFileHeaderSize) return "its section size does not fit the file" + at(copy_at);
      return {};
    } catch (const ArchiveError& e) {
      last_error = e.what();
    }
  }
  return last_error + at(copy_at);
}

const std::vector<std::uint8_t>& ArchiveReader::verbatim() const {
  std::call_once(verbatim_loaded_, [this] {
    if (section_.verbatim.size() == verbatim_size_) return;
    // The section was checked when the archive was opened; it is read again (a restore needs
    // its later frames, which can be large) and checked again before they are used.
    std::vector<std::uint8_t> stored(verbatim_stored_.size);
    read_at(verbatim_stored_.offset, stored.data(), stored.size());
    if (checksum64(stored) != verbatim_stored_.checksum) fail("metadata checksum mismatch" + at(verbatim_stored_.offset) + " on reading it again");
    std::vector<std::uint8_t> verbatim = section_.verbatim;
    load_metadata_frames(verbatim, verbatim_size_, stored, format_version_);
    section_.verbatim = std::move(verbatim);
  });
  return section_.verbatim;
}

ArchiveReader::~ArchiveReader() {
  if (fd_ >= 0) ::close(fd_);
}

void ArchiveReader::read_at(std::uint64_t offset, std::uint8_t* out, std::uint64_t size) const {
  if (fd_ < 0) {
    if (offset > memory_.size() || size > memory_.size() - offset) fail("archive is truncated" + at(std::min<std::uint64_t>(offset, memory_.size())));
    std::copy_n(memory_.data() + offset, size, out);
    return;
  }
  while (size > 0) {
    const ssize_t n = ::pread(fd_, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot read " + path_.string() + ": " + std::strerror(errno));
    if (n == 0) fail("archive is truncated" + at(offset));
    out += n;
    offset += static_cast<std::uint64_t>(n);
    size -= static_cast<std::uint64_t>(n);
  }
}

std::vector<std::uint8_t> ArchiveReader::read_payload(std::uint64_t chunk, bool* damaged) const {
  const bool tolerate = damaged != nullptr && format_version_ >= kFirstVersionWithStreamChecks;
  if (damaged != nullptr) *damaged = false;
  const IndexEntry& e = index_.at(chunk);
  if (e.lost()) throw LostChunkError(lost_chunk_message(section_.metadata, chunk));
  const std::size_t header_size = chunk_header_size(format_version_);
  std::uint8_t header_bytes[kChunkHeaderSize];
  read_at(e.record_offset, header_bytes, header_size);
  const ChunkHeader h = parse_chunk_header({header_bytes, header_size}, e.record_offset, format_version_);
  const bool matches = format_version_ >= 4 ? h.chunk_index == chunk && h.payload_size == e.payload_size
                                             : h.chunk_index == chunk && h.first_sample == e.first_sample && h.sample_count == e.sample_count &&
                                                   h.payload_size == e.payload_size && h.payload_checksum == e.payload_checksum;
  if (!matches && !tolerate) fail("chunk " + std::to_string(chunk) + ": record header does not match the index" + at(e.record_offset));
  std::vector<std::uint8_t> payload(e.payload_size);
  read_at(payload_offset(chunk), payload.data(), payload.size());
  if (tolerate && (!matches || checksum64(payload) != h.payload_checksum)) {
    *damaged = true;  // the index places the payload; its stream checks vouch for each channel decoded from it
    return payload;
  }
  if (checksum64(payload) != h.payload_checksum)
    fail("chunk " + std::to_string(chunk) + ": payload checksum mismatch (payload bytes " +
         std::to_string(payload_offset(chunk)) + ".." + std::to_string(payload_offset(chunk) + e.payload_size - 1) + ")");
  return payload;
}

}  // namespace spikey::format
