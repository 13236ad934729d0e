#include "spikey/host/output_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>

namespace spikey::host {

namespace fs = std::filesystem;

namespace {

// Temporary paths alive right now, for the signal handler: a fixed table of atomics so the
// handler only reads lock-free memory and calls unlink(), which is async-signal-safe.
constexpr int kRegistrySlots = 1024;
std::array<std::atomic<char*>, kRegistrySlots> g_temporary_paths{};

int register_path(const fs::path& p) {
  const std::string s = p.string();
  char* copy = new char[s.size() + 1];
  std::memcpy(copy, s.c_str(), s.size() + 1);
  for (int i = 0; i < kRegistrySlots; ++i) {
    char* expected = nullptr;
    if (g_temporary_paths[i].compare_exchange_strong(expected, copy)) return i;
  }
  delete[] copy;  // table full: the file is still removed by the destructor, just not on a signal
  return -1;
}

void unregister_path(int slot) {
  if (slot >= 0) delete[] g_temporary_paths[slot].exchange(nullptr);
}

extern "C" void remove_temporaries_and_exit(int signal_number) {
  for (auto& slot : g_temporary_paths) {
    if (const char* p = slot.load()) ::unlink(p);
  }
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

std::atomic<unsigned> g_temporary_counter{0};

std::runtime_error io_error(const std::string& what, const fs::path& path) {
  return std::runtime_error("cannot " + what + " " + path.string() + ": " + std::strerror(errno));
}

constexpr std::size_t kBufferSize = 1 << 20;

}  // namespace

void install_cleanup_signal_handlers() {
  for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, remove_temporaries_and_exit);
}

TemporaryPath::TemporaryPath(const fs::path& destination, bool overwrite) : destination_(destination), overwrite_(overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(fs::symlink_status(destination, ec)))
    throw std::runtime_error(destination.string() + " already exists (use -f to overwrite)");
  if (fs::is_directory(destination, ec)) throw std::runtime_error(destination.string() + " is a directory");
  const fs::path parent = destination.has_parent_path() ? destination.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, ec)) throw std::runtime_error("cannot write " + destination.string() + ": directory " + parent.string() + " does not exist");
  std::string name = ".";
  name += destination.filename().string();
  name += ".spikey-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(g_temporary_counter++);
  temporary_ = parent / name;
  registry_slot_ = register_path(temporary_);
}

TemporaryPath::~TemporaryPath() {
  if (!committed_) ::unlink(temporary_.c_str());
  unregister_path(registry_slot_);
}

void TemporaryPath::commit() {
  // Without -f, refuse to replace a file that appeared while we were working.
  if (!overwrite_) {
    if (::link(temporary_.c_str(), destination_.c_str()) != 0) {
      if (errno == EEXIST) throw std::runtime_error(destination_.string() + " already exists (use -f to overwrite)");
      // Filesystems without hard links: fall back to rename.
      if (::rename(temporary_.c_str(), destination_.c_str()) != 0) throw io_error("rename to", destination_);
    } else {
      ::unlink(temporary_.c_str());
    }
  } else if (::rename(temporary_.c_str(), destination_.c_str()) != 0) {
    throw io_error("rename to", destination_);
  }
  committed_ = true;
}

OutputFile::OutputFile(const fs::path& destination, bool overwrite)
    : temporary_(destination, overwrite), buffer_(new std::uint8_t[kBufferSize]) {
  fd_ = ::open(temporary_.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    delete[] buffer_;
    throw io_error("create", temporary_.path());
  }
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  delete[] buffer_;
}

void OutputFile::flush_buffer() {
  const std::uint8_t* p = buffer_;
  std::size_t left = buffered_;
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error("write", temporary_.destination());
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  buffered_ = 0;
}

void OutputFile::write(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const std::size_t n = std::min(bytes.size(), kBufferSize - buffered_);
    std::memcpy(buffer_ + buffered_, bytes.data(), n);
    buffered_ += n;
    bytes = bytes.subspan(n);
    if (buffered_ == kBufferSize) flush_buffer();
  }
}

void OutputFile::commit() {
  flush_buffer();
  // No fsync: restored files and windows are re-creatable from the archive (like zstd, flac
  // and tar, which do not sync their outputs either); the rename still never exposes a
  // partial file. The archive writer does sync, since the archive is what gets kept.
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) throw io_error("close", temporary_.destination());
  temporary_.commit();
}

}  // namespace spikey::host
