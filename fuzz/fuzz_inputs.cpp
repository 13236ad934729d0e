// Fuzz target: input readers and the whole lossless path. The first input byte chooses how the
// rest is read and the level:
//   bit 0 set            headerless int16, 1..8 channels (bits 1-3), one of 4 rates (bits 4-5)
//   bits 0-1 = 0b10      an acquisition folder: the rest is `text NUL binary`; bit 2 set: a
//                        SpikeGLX pair (text = the .meta, binary = the .bin), clear: an Open
//                        Ephys folder (text = structure.oebin, binary = continuous/s/continuous.dat
//                        and, when bit 3 is set, the same bytes as an .npy side file)
//   bits 0-1 = 0b00      bits 2-3 = 01: a Neuralynx .ncs file; 10: an Open Ephys legacy
//                        .continuous file; 11: a Blackrock .ns5 file; 00: with bits 4 and 5
//                        set a Blackrock .nev file, with bit 4 alone an Intan .rhd file, with
//                        bit 5 alone an Intan .rhs file, else a Plexon .plx file when the
//                        rest starts "PLEX", a Spike2 .smr file when "(C) CED 87" is at its
//                        byte 2, an AlphaOmega .mpx file when it starts with a 60-byte 'h'
//                        block's head (3C 00 'h'), an Axon .abf file when it starts "ABF " or
//                        "ABF2", an Axona raw .bin when it starts "ADU1" or "ADU2", a WAV
//                        file otherwise
//   bits 6-7             the level
// The bytes are parsed, and when they are a usable recording they are compressed, the archive
// is decoded and every restored file must equal its original (verify-after-compress plus
// restore_sources).
// A well-formed refusal is host::InputError (or std::invalid_argument for options that do not
// fit the input, e.g. a chunk length over 1e8 samples at the file's sample rate); any other
// failure is a bug.
#include <unistd.h>

#include <algorithm>
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
  const bool acquisition = (mode & 3) == 2;
  static const char* const kRecordFiles[] = {nullptr, "input.ncs", "input.continuous", "input.ns5"};
  const char* record_file = (mode & 3) != 0             ? nullptr
                            : ((mode >> 2) & 3) != 0    ? kRecordFiles[(mode >> 2) & 3]
                            : (mode & 0x30) == 0x30     ? "input.nev"
                            : (mode & 0x10) != 0        ? "input.rhd"
                            : (mode & 0x20) != 0        ? "input.rhs"
                            : file.size() >= 4 && std::equal(file.begin(), file.begin() + 4, "PLEX") ? "input.plx"
                            : file.size() >= 12 && std::equal(file.begin() + 2, file.begin() + 12, "(C) CED 87") ? "input.smr"
                            : file.size() >= 3 && file[0] == 0x3C && file[1] == 0 && file[2] == 'h' ? "input.mpx"
                            : file.size() >= 4 && (std::equal(file.begin(), file.begin() + 4, "ABF ") || std::equal(file.begin(), file.begin() + 4, "ABF2"))
                                ? "input.abf"
                            : file.size() >= 4 && (std::equal(file.begin(), file.begin() + 4, "ADU1") || std::equal(file.begin(), file.begin() + 4, "ADU2"))
                                ? "input.bin"
                                                        : nullptr;
  if (!raw && !acquisition && record_file == nullptr) {
    try {
      host::parse_wav(file, "fuzz.wav");
    } catch (const host::InputError&) {
      return 0;
    }
  }
  if (file.size() > kMaxRoundTripBytes) return 0;

  const fs::path archive = scratch() / "input.spikey";
  const auto write = [](const fs::path& path, std::span<const std::uint8_t> bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  };
  fs::path input;
  if (acquisition) {
    input = scratch() / "folder";
    std::error_code ignored;
    fs::remove_all(input, ignored);
    const auto nul = std::find(file.begin(), file.end(), std::uint8_t{0});
    const std::span<const std::uint8_t> text(file.begin(), nul), binary(nul == file.end() ? nul : nul + 1, file.end());
    if (mode & 4) {
      write(input / "run_g0_t0.imec0.ap.meta", text);
      write(input / "run_g0_t0.imec0.ap.bin", binary);
    } else {
      write(input / "structure.oebin", text);
      write(input / "continuous" / "s" / "continuous.dat", binary);
      if (mode & 8) write(input / "continuous" / "s" / "timestamps.npy", binary);
    }
  } else {
    input = scratch() / (raw ? "input.bin" : record_file != nullptr ? record_file : "input.wav");
    write(input, file);
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
