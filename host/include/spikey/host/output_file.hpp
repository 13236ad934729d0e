// Safe outputs: everything is written under a temporary name next to its destination and
// renamed into place only when complete, so an interrupted or failed run never leaves a
// partial file under the final name. Temporary files are removed on failure, on
// destruction and (after install_cleanup_signal_handlers) on SIGINT/SIGTERM/SIGHUP.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

namespace spikey::host {

void install_cleanup_signal_handlers();

// A scratch directory of this run (for standard input or output), removed with everything in
// it on destruction and, for the files named with remove_on_signal, on SIGINT/SIGTERM/SIGHUP.
class ScratchDirectory {
 public:
  ScratchDirectory();  // under the system's temporary directory ($TMPDIR)
  ~ScratchDirectory();
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // `file` (inside the directory) is removed by the signal handlers too.
  void remove_on_signal(const std::filesystem::path& file);

 private:
  std::filesystem::path path_;
  std::vector<int> slots_;
};

// Inputs are never replaced: while a ProtectedInput lives (MappedFile holds one for every
// recording and damaged archive it maps; the CLI for each archive it reads), a TemporaryPath
// whose destination is that file (by its name, a symbolic link or a hard link: the same device
// and inode) is refused, with or without -f.
class ProtectedInput {
 public:
  explicit ProtectedInput(const std::filesystem::path& path);  // nothing protected if it cannot be stat'ed
  ProtectedInput(std::uint64_t device, std::uint64_t inode, const std::filesystem::path& path);
  ~ProtectedInput();
  ProtectedInput(ProtectedInput&& other) noexcept;
  ProtectedInput& operator=(ProtectedInput&&) = delete;
  ProtectedInput(const ProtectedInput&) = delete;

 private:
  void add(std::uint64_t device, std::uint64_t inode, const std::filesystem::path& path);
  std::uint64_t device_ = 0, inode_ = 0;
  bool active_ = false;
};

// A unique temporary path in the destination's directory, removed unless committed.
class TemporaryPath {
 public:
  // Fails if `destination` exists and !overwrite, if it is a protected input or exists and is
  // not a regular file (a FIFO or a device cannot be replaced atomically), or if its directory
  // does not exist. The temporary name is ".NAME.spikey-tmp-PID-N", with NAME
  // shortened where the whole would pass the directory's name limit.
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

// The destination "-": standard output (written as it comes, never closed).
inline bool is_standard_output(const std::filesystem::path& destination) { return destination == "-"; }

// A file written sequentially under a TemporaryPath, or standard output for "-".
class OutputFile {
 public:
  OutputFile(const std::filesystem::path& destination, bool overwrite);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(std::span<const std::uint8_t> bytes);
  std::filesystem::path destination() const { return temporary_ ? temporary_->destination() : std::filesystem::path("-"); }
  // Flushes, closes and renames into place.
  void commit();

 private:
  void flush_buffer();

  std::optional<TemporaryPath> temporary_;  // none for standard output
  int fd_ = -1;
  std::uint8_t* buffer_;
  std::size_t buffered_ = 0;
};

}  // namespace spikey::host
