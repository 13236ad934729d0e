// RIFF/WAVE parsing and writing for 16-bit PCM (SPEC.md §4.2 describes how a WAV source is
// split into verbatim prefix, samples and verbatim suffix).
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace spikey::host {

// A problem with an input file; the message names the file and is shown as is.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct WavLayout {
  std::uint32_t channels = 0;
  std::uint32_t sample_rate = 0;
  std::uint64_t data_offset = 0;  // first sample byte
  std::uint64_t frames = 0;       // whole frames inside the data chunk (and the file)
  // An unfinalized file (a recorder stopped before it wrote the data size): bytes after the
  // data chunk's declared end that do not start a RIFF chunk, and the frames the header declares.
  std::uint64_t unclaimed_bytes = 0;
  std::uint64_t declared_frames = 0;
};

// Walks the RIFF chunks of a complete WAV file. Accepts PCM (format 1) and
// WAVE_FORMAT_EXTENSIBLE with the PCM subformat, 16 bits per sample, 1..65535 channels.
// Everything outside [data_offset, data_offset + frames * channels * 2) is kept verbatim by
// the caller, so odd sizes, extra chunks and trailing bytes restore exactly.
// Throws InputError with `name` in the message for anything else. With `take_unclaimed`, the
// frames of an unfinalized file run to the end of the file (the header is kept as it is).
WavLayout parse_wav(std::span<const std::uint8_t> file, const std::string& name, bool take_unclaimed = false);

// True when the bytes start like a RIFF/WAVE (or RF64/WAVE) file.
bool looks_like_wav(std::span<const std::uint8_t> file);

// A canonical 16-bit PCM WAV header for `frames` frames (WAVE_FORMAT_EXTENSIBLE above 2 channels).
std::vector<std::uint8_t> wav_header(std::uint32_t channels, std::uint32_t sample_rate, std::uint64_t frames);

}  // namespace spikey::host
