// Safe outputs: everything is written under a temporary name next to its destination and
// renamed into place only when complete, so an interrupted or failed run never leaves a
// partial file under the final name. Temporary files are removed on failure, on
// destruction and (after install_cleanup_signal_handlers) on SIGINT/SIGTERM/SIGHUP.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

namespace spikey::host {

void install_cleanup_signal_handlers();

// A unique temporary path in the destination's directory, removed unless committed.
class TemporaryPath {
 public:
  // Fails if `destination` exists and !overwrite, or if its directory does not exist.
  TemporaryPath(const std::filesystem::path& destination, bool overwrite);
  ~TemporaryPath();
  TemporaryPath(const TemporaryPath&) = delete;
  TemporaryPath& operator=(const TemporaryPath&) = delete;

  const std::filesystem::path& path() const { return temporary_; }
  const std::filesystem::path& destination() const { return destination_; }
  // Renames the temporary file to the destination.
  void commit();

 private:
  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  bool overwrite_;
  bool committed_ = false;
  int registry_slot_ = -1;
};

// A file written sequentially under a TemporaryPath.
class OutputFile {
 public:
  OutputFile(const std::filesystem::path& destination, bool overwrite);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(std::span<const std::uint8_t> bytes);
  // Flushes, closes and renames into place.
  void commit();

 private:
  void flush_buffer();

  TemporaryPath temporary_;
  int fd_ = -1;
  std::uint8_t* buffer_;
  std::size_t buffered_ = 0;
};

}  // namespace spikey::host
