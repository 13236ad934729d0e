// Fuzz target: input readers and the whole lossless path. The first input byte chooses how the
// rest is read (a WAV file, or headerless int16 with 1..8 channels) and the level; the bytes
// are parsed, and when they are a usable recording they are compressed, the archive is decoded
// and every restored file must equal its original (verify-after-compress plus restore_sources).
// A well-formed refusal is host::InputError (or std::invalid_argument for options that do not
// fit the input, e.g. a chunk length over 1e8 samples at the file's sample rate); any other
// failure is a bug.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "spikey/format/archive_reader.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/wav.hpp"

using namespace spikey;
namespace fs = std::filesystem;

namespace {

// A private scratch directory, removed at exit.
const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("spikey-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] { std::error_code ignored; fs::remove_all(fs::temp_directory_path() / ("spikey-fuzz-" + std::to_string(::getpid())), ignored); });
    return d;
  }();
  return dir;
}

// Inputs above this many bytes are only parsed, not compressed (fuzzing throughput).
constexpr std::size_t kMaxRoundTripBytes = 1 << 16;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0];
  const std::span<const std::uint8_t> file(data + 1, size - 1);
  const bool raw = mode & 1;
  if (!raw) {
    try {
      host::parse_wav(file, "fuzz.wav");
    } catch (const host::InputError&) {
      return 0;
    }
  }
  if (file.size() > kMaxRoundTripBytes) return 0;

  const fs::path input = scratch() / (raw ? "input.bin" : "input.wav");
  const fs::path archive = scratch() / "input.spikey";
  {
    std::ofstream out(input, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
  }
  host::InputOptions input_options;
  if (raw) {
    input_options.raw_channels = 1u + ((mode >> 1) & 7u);
    input_options.raw_rate = 1000.0 + 997.0 * ((mode >> 4) & 3u);
  }
  static const char* const kLevels[] = {"fast", "default", "max", "fast"};
  try {
    const auto recording = host::Recording::open({input}, input_options, [](const std::string&) {});
    host::EncodeOptions options;
    options.level = kLevels[(mode >> 6) & 3u];
    options.chunk_seconds = 0.05;
    options.overwrite = true;
    host::compress(recording, archive, options);  // verifies the decoded samples itself
  } catch (const host::InputError&) {
    return 0;
  } catch (const std::invalid_argument&) {  // options that do not fit the input (the CLI's usage errors)
    return 0;
  }
  const format::ArchiveReader reader(archive);
  const auto report = host::restore_sources(reader, host::RestoreOptions{{}, false, 1, {}});
  if (!report.mismatched_files.empty()) std::abort();  // a restored file differs from its original
  return 0;
}
