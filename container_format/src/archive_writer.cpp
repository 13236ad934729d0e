#include "spikey/format/archive_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "spikey/format/checksum.hpp"

namespace spikey::format {

namespace {
std::runtime_error io_error(const std::filesystem::path& path, const char* what) {
  return std::runtime_error("cannot " + std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}
}  // namespace

ArchiveWriter::ArchiveWriter(const std::filesystem::path& path, const MetadataSection& metadata, const MetadataFrameOptions& frames)
    : path_(path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw io_error(path, "create");
  file_ = ::fdopen(fd, "wb");
  if (file_ == nullptr) {
    ::close(fd);
    throw io_error(path, "open");
  }
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  write_start(metadata, frames);
}

ArchiveWriter::ArchiveWriter(const MetadataSection& metadata, const MetadataFrameOptions& frames) : path_("archive in memory") {
  write_start(metadata, frames);
}

void ArchiveWriter::write_start(const MetadataSection& metadata, const MetadataFrameOptions& frames) {
  section_ = serialize(metadata, frames);
  metadata_ = &metadata;
  frames_ = frames;
  FileHeader header;
  header.metadata_size = section_.size();
  header.metadata_checksum = checksum64(section_);
  write_bytes(serialize(header));
  write_bytes(section_);
}

ArchiveWriter::~ArchiveWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void ArchiveWriter::write_bytes(std::span<const std::uint8_t> bytes) {
  if (file_ == nullptr)
    memory_.insert(memory_.end(), bytes.begin(), bytes.end());
  else if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())
    throw io_error(path_, "write");
  offset_ += bytes.size();
}

void ArchiveWriter::append_chunk(std::uint64_t first_sample, std::uint32_t sample_count,
                                 std::span<const std::uint8_t> payload, std::uint64_t samples_checksum) {
  if (payload.empty()) throw std::logic_error("a chunk payload is never empty (empty marks a lost chunk)");
  ChunkHeader frame;
  frame.chunk_index = static_cast<std::uint32_t>(index_.size());
  frame.payload_size = payload.size();
  frame.payload_checksum = checksum64(payload);
  index_.push_back({first_sample, sample_count, offset_, payload.size(), frame.payload_checksum, samples_checksum});
  write_bytes(serialize(frame));
  write_bytes(payload);
}

void ArchiveWriter::append_lost_chunk(std::uint64_t first_sample, std::uint32_t sample_count) {
  index_.push_back({first_sample, sample_count, offset_, 0, 0, 0});
}

std::uint64_t ArchiveWriter::finish() {
  // §3.7: the metadata again, so that a damaged metadata section does not lose the archive.
  MetadataCopy copy = metadata_copy_of(*metadata_);  // without the side files' bytes
  copy.metadata.section_size = section_.size();
  const std::vector<std::uint8_t> stored_copy = serialize(copy, frames_);
  write_bytes(stored_copy);
  write_bytes(serialize(MetadataTrailer{stored_copy.size(), checksum64(stored_copy)}));
  const auto index_bytes = serialize_index(index_);
  Footer footer;
  footer.index_offset = offset_;
  footer.chunk_count = index_.size();
  footer.index_checksum = checksum64(index_bytes);
  write_bytes(index_bytes);
  write_bytes(serialize(footer));
  if (file_ == nullptr) return offset_;
  if (std::fflush(file_) != 0) throw io_error(path_, "write");
  if (::fsync(::fileno(file_)) != 0) throw io_error(path_, "sync");
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) throw io_error(path_, "close");
  return offset_;
}

}  // namespace spikey::format
