// Shared helpers for the test suite: data locations, temporary directories, file I/O.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "spikey/format/archive_reader.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/wav.hpp"

namespace spikey::test {

namespace fs = std::filesystem;

// Real recordings shared by the project (../shared/data next to the checkout), or
// $SPIKEY_SHARED_DATA. Tests that need them skip with a clear message when absent.
inline fs::path shared_data_dir() {
  if (const char* env = std::getenv("SPIKEY_SHARED_DATA")) return env;
  return fs::path(SPIKEY_SOURCE_DIR) / ".." / "shared" / "data";
}

// The small real sample committed with the project.
inline fs::path samples_dir() { return fs::path(SPIKEY_SOURCE_DIR) / "samples"; }
inline fs::path golden_dir() { return fs::path(SPIKEY_SOURCE_DIR) / "tests" / "golden"; }

// Corpus-wide tests (all 303 Neuralink files, every multichannel set at level max) take
// minutes; the sanitizer build (scripts/test_sanitized.sh) skips them: the regular build runs
// them, and the sanitizers see the same code paths in the smaller real-data tests.
#ifdef SPIKEY_SANITIZED_BUILD
#define SPIKEY_SKIP_CORPUS_WIDE_IN_SANITIZED_BUILD() GTEST_SKIP() << "corpus-wide test: run by the regular build, skipped under sanitizers"
#else
#define SPIKEY_SKIP_CORPUS_WIDE_IN_SANITIZED_BUILD() static_cast<void>(0)
#endif

#define SPIKEY_REQUIRE_SHARED(relative)                                                                   \
  do {                                                                                                    \
    if (!std::filesystem::exists(::spikey::test::shared_data_dir() / (relative)))                         \
      GTEST_SKIP() << "real data " << (::spikey::test::shared_data_dir() / (relative)).string()           \
                   << " is absent (set SPIKEY_SHARED_DATA or place ../shared/data next to the checkout)"; \
  } while (0)

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() / ("spikey-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

inline std::vector<std::uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const fs::path& path, const std::string& text) { write_file(path, std::vector<std::uint8_t>(text.begin(), text.end())); }

// Every regular file under `dir`, by relative path.
inline std::map<std::string, std::vector<std::uint8_t>> files_under(const fs::path& dir) {
  std::map<std::string, std::vector<std::uint8_t>> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[e.path().lexically_relative(dir).generic_string()] = read_file(e.path());
  return files;
}

// Restores every source of `archive` into `directory` on two threads.
inline host::RestoreReport restore_into(const fs::path& archive, const fs::path& directory) {
  const format::ArchiveReader reader(archive);
  host::RestoreOptions restore;
  restore.output_directory = directory;
  restore.threads = 2;
  return host::restore_sources(reader, restore);
}

inline std::vector<std::uint8_t> as_bytes(const std::vector<std::int16_t>& samples) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(samples.data());
  return {p, p + samples.size() * 2};
}

// A canonical 16-bit PCM WAV of interleaved samples.
inline std::vector<std::uint8_t> make_wav(std::uint32_t channels, std::uint32_t rate, const std::vector<std::int16_t>& interleaved) {
  auto bytes = host::wav_header(channels, rate, interleaved.size() / channels);
  const auto data = as_bytes(interleaved);
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

// 1024 channels from the bundled real 32-channel sample (each real channel at 32 time offsets),
// `frames` samples each (at most 187), as a 30 kHz WAV file.
inline void write_wide_sample_wav(const fs::path& path, std::size_t frames) {
  const auto raw = read_file(samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto* samples = reinterpret_cast<const std::int16_t*>(raw.data());
  std::vector<std::int16_t> wide;
  for (std::size_t t = 0; t < frames; ++t)
    for (std::size_t c = 0; c < 1024; ++c) wide.push_back(samples[((c / 32) * frames + t) * 32 + c % 32]);
  write_file(path, make_wav(1024, 30000, wide));
}

// Deterministic noise around a slow wave, clipped to int16: a crude stand-in used only where a
// test needs a property real data lacks (exact sizes, rails, odd shapes).
inline std::vector<std::int16_t> synthetic_signal(std::size_t count, std::uint32_t seed, int noise = 40) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> gauss(0.0, noise);
  std::vector<std::int16_t> out(count);
  double phase = seed * 0.1;
  for (std::size_t i = 0; i < count; ++i) {
    phase += 0.003;
    const double v = 800.0 * std::sin(phase) + gauss(rng);
    out[i] = static_cast<std::int16_t>(std::clamp(v, -32768.0, 32767.0));
  }
  return out;
}

// The first `frames` frames of the first `channels` channels of the bundled 32-channel real
// sample, written as headerless int16 at `path` (read it with InputOptions{channels, 30000}).
inline void write_cinpla_slice(const fs::path& path, std::size_t channels, std::size_t frames) {
  const auto raw = read_file(samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  std::vector<std::uint8_t> slice(channels * frames * 2);
  for (std::size_t t = 0; t < frames; ++t)
    for (std::size_t c = 0; c < channels; ++c) std::memcpy(&slice[(t * channels + c) * 2], &raw[(t * 32 + c) * 2], 2);
  write_file(path, slice);
}

}  // namespace spikey::test
