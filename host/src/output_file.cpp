#include "spikey/host/output_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

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

struct ProtectedInputs {
  std::mutex mutex;
  // (device, inode) -> the name it was opened by, and how many holders protect it
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::pair<fs::path, int>> files;
};

ProtectedInputs& protected_inputs() {
  static ProtectedInputs inputs;
  return inputs;
}

// The input that `destination` names (following links), if it is one.
std::optional<fs::path> protected_input_at(const fs::path& destination) {
  struct stat st {};
  if (::stat(destination.c_str(), &st) != 0) return std::nullopt;
  ProtectedInputs& inputs = protected_inputs();
  const std::lock_guard lock(inputs.mutex);
  const auto it = inputs.files.find({static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)});
  if (it == inputs.files.end()) return std::nullopt;
  return it->second.first;
}

constexpr const char* kTemporaryMark = ".spikey-tmp-";

// This machine's name as it appears in temporary names ('.' and '/' would confuse the parse).
const std::string& host_name() {
  static const std::string name = [] {
    char buffer[256] = {};
    std::string n = ::gethostname(buffer, sizeof buffer - 1) == 0 ? std::string(buffer) : std::string("host");
    for (char& c : n)
      if (c == '/' || c == '.') c = '_';
    return n;
  }();
  return name;
}

// ".NAME.spikey-tmp-HOST-PID-N", NAME cut (at a UTF-8 character boundary) so that the whole fits
// the directory's limit on a name (255 bytes on most file systems). HOST, because a directory
// may be shared by the nodes of a cluster, where a process number says nothing elsewhere.
std::string temporary_name(const fs::path& parent, const std::string& name, unsigned counter) {
  const std::string suffix = kTemporaryMark + host_name() + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter);
  const long limit = ::pathconf(parent.c_str(), _PC_NAME_MAX);
  const std::size_t max_name = limit > 0 ? static_cast<std::size_t>(limit) : 255;
  std::size_t keep = name.size();
  if (1 + keep + suffix.size() > max_name) {
    keep = max_name > 1 + suffix.size() ? max_name - 1 - suffix.size() : 0;
    while (keep > 0 && (static_cast<unsigned char>(name[keep]) & 0xc0) == 0x80) --keep;  // not inside a character
  }
  std::string out(1, '.');
  out.append(name, 0, keep);
  out.append(suffix);
  return out;
}

// Removes the temporaries that killed runs of spikey on this machine left in `directory` (a
// SIGKILL gives no chance to clean up): names of this form, from this host, whose process is
// gone. Once per directory per process.
void remove_stale_temporaries(const fs::path& directory) {
  static std::mutex mutex;
  static std::set<fs::path> scanned;
  {
    const std::lock_guard lock(mutex);
    if (!scanned.insert(directory).second) return;
  }
  const std::string mark = kTemporaryMark + host_name() + "-";
  std::error_code ec;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::size_t at = name.rfind(mark);
    if (name.empty() || name[0] != '.' || at == std::string::npos) continue;
    const std::string rest = name.substr(at + mark.size());  // "PID-N"
    const std::size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos || rest.find_first_not_of("0123456789-") != std::string::npos || rest.find('-', dash + 1) != std::string::npos)
      continue;
    const long pid = std::strtol(rest.substr(0, dash).c_str(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    std::error_code ignored;
    if (it->is_regular_file(ignored)) fs::remove(it->path(), ignored);
  }
}

}  // namespace

ScratchDirectory::ScratchDirectory() {
  std::string pattern = (fs::temp_directory_path() / "spikey-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw io_error("create a directory in", fs::temp_directory_path());
  path_ = pattern;
}

ScratchDirectory::~ScratchDirectory() {
  for (const int slot : slots_) unregister_path(slot);
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

void ScratchDirectory::remove_on_signal(const fs::path& file) { slots_.push_back(register_path(file)); }

ProtectedInput::ProtectedInput(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) add(static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino), path);
}

ProtectedInput::ProtectedInput(std::uint64_t device, std::uint64_t inode, const fs::path& path) { add(device, inode, path); }

void ProtectedInput::add(std::uint64_t device, std::uint64_t inode, const fs::path& path) {
  ProtectedInputs& inputs = protected_inputs();
  const std::lock_guard lock(inputs.mutex);
  auto& entry = inputs.files[{device, inode}];
  if (entry.second++ == 0) entry.first = path;
  device_ = device, inode_ = inode, active_ = true;
}

ProtectedInput::ProtectedInput(ProtectedInput&& other) noexcept : device_(other.device_), inode_(other.inode_), active_(other.active_) {
  other.active_ = false;
}

ProtectedInput::~ProtectedInput() {
  if (!active_) return;
  ProtectedInputs& inputs = protected_inputs();
  const std::lock_guard lock(inputs.mutex);
  const auto it = inputs.files.find({device_, inode_});
  if (it != inputs.files.end() && --it->second.second == 0) inputs.files.erase(it);
}

void install_cleanup_signal_handlers() {
  for (int s : {SIGINT, SIGTERM, SIGHUP}) std::signal(s, remove_temporaries_and_exit);
}

TemporaryPath::TemporaryPath(const fs::path& destination, bool overwrite) : destination_(destination), overwrite_(overwrite) {
  std::error_code ec;
  if (const auto input = protected_input_at(destination))
    throw std::runtime_error("refusing to write " + destination.string() + ": it is the input " + input->string() +
                             " (inputs are never replaced; choose another output)");
  if (fs::is_directory(destination, ec)) throw std::runtime_error(destination.string() + " is a directory");
  const fs::file_status status = fs::status(destination, ec);
  if (fs::exists(status) && !fs::is_regular_file(status))
    throw std::runtime_error("cannot write " + destination.string() + ": it is not a regular file (" +
                             (fs::is_fifo(status) ? "a FIFO" : fs::is_character_file(status) || fs::is_block_file(status) ? "a device" : "a special file") +
                             "); outputs are written under a temporary name and renamed into place, so use -o - to write to standard output");
  if (!overwrite && fs::exists(fs::symlink_status(destination, ec)))
    throw std::runtime_error(destination.string() + " already exists (use -f to overwrite)");
  const fs::path parent = destination.has_parent_path() ? destination.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, ec)) throw std::runtime_error("cannot write " + destination.string() + ": directory " + parent.string() + " does not exist");
  remove_stale_temporaries(parent);
  temporary_ = parent / temporary_name(parent, destination.filename().string(), g_temporary_counter++);
  registry_slot_ = register_path(temporary_);
}

TemporaryPath::~TemporaryPath() {
  if (!committed_) ::unlink(temporary_.c_str());
  unregister_path(registry_slot_);
}

void TemporaryPath::commit() {
  // An input that appeared under the destination's name while we worked is not replaced either.
  if (const auto input = protected_input_at(destination_))
    throw std::runtime_error("refusing to write " + destination_.string() + ": it is the input " + input->string());
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

OutputFile::OutputFile(const fs::path& destination, bool overwrite) : buffer_(new std::uint8_t[kBufferSize]) {
  if (is_standard_output(destination)) {
    fd_ = STDOUT_FILENO;
    return;
  }
  try {
    temporary_.emplace(destination, overwrite);
  } catch (...) {
    delete[] buffer_;
    throw;
  }
  fd_ = ::open(temporary_->path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    delete[] buffer_;
    throw io_error("create", temporary_->path());
  }
}

OutputFile::~OutputFile() {
  if (fd_ >= 0 && temporary_) ::close(fd_);
  delete[] buffer_;
}

void OutputFile::flush_buffer() {
  const std::uint8_t* p = buffer_;
  std::size_t left = buffered_;
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error("write", destination());
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
  if (!temporary_) return;  // standard output: written, and left open
  // No fsync: restored files and windows are re-creatable from the archive (like zstd, flac
  // and tar, which do not sync their outputs either); the rename still never exposes a
  // partial file. The archive writer does sync, since the archive is what gets kept.
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) throw io_error("close", temporary_->destination());
  temporary_->commit();
}

}  // namespace spikey::host
