// The zstd dictionary of format version 4's metadata section (SPEC.md §3.3): fixed forever for
// version 4. It is raw content: typical metadata JSON (every key, in the order the writer emits
// them, with common values) followed by a canonical 44-byte WAV header, so that a one-file
// archive's metadata costs its few specific values rather than the names of its fields.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <vector>

namespace spikey::format {

inline std::vector<std::uint8_t> metadata_dictionary_v4() {
  constexpr std::string_view text =
      R"({"channels":[{"length":30000,"predictor":{"history_weights":[-1200,-800,-400,-200,-100,-50,-20,-10],"lms_step":2,)"
      R"("sources":[{"channel":0,"weights":[-100,200,1000,200,-100]},{"channel":1,"weights":[0,0,0,0,0]}],"wavelet_weights":[0,0,0,0]},)"
      R"("source":0,"value_map":{"kind":"identity"}},{"name":"","source":0,"value_map":{"kind":"affine","offset":0,"step":12}}],)"
      R"("chunk_samples":30000,"codec":{"first_class":8,"name":"mo1","partition_size":256,"prior":"80","scale_rate":5,"shapes":"",)"
      R"("source_half_window":2,"wavelet_levels":3,"weight_shift":12},"encoder":"spikey 0.4.0","format_version":4,"level":"default",)"
      R"("sample_rate":30000.0,"sources":[{"channel_count":32,"checksum":"","first_channel":0,"frames":30000,"kind":"raw","path":".dat",)"
      R"("prefix":[0,0],"size":1920000,"suffix":[0,0]}],"total_samples":30000})"
      R"({"channels":[{"length":98689,"predictor":{"history_weights":[-63,-133,-193,-302,-387,-522,-661,-908,-1478],"lms_step":2,)"
      R"("sources":[],"wavelet_weights":[]},"source":0,"value_map":{"kind":"n1_10bit"}}],"chunk_samples":19531,)"
      R"("codec":{"first_class":5,"name":"cm1","partition_size":256,"prior":"8080808080808080","scale_rate":4,"shapes":"5f2828005f571200",)"
      R"("source_half_window":2,"wavelet_levels":3,"weight_shift":12},"encoder":"spikey 0.4.0","format_version":4,"level":"max",)"
      R"("sample_rate":19531.0,"sources":[{"channel_count":1,"checksum":"0000000000000000","first_channel":0,"frames":98689,"kind":"wav",)"
      R"("path":"00000000-0000-0000-0000-000000000000.wav","prefix":[0,44],"size":197422,"suffix":[44,0]}],"total_samples":98689})";
  // RIFF header of a mono 16-bit WAV at 19531 Hz (the Neuralink challenge files).
  constexpr std::uint8_t wav_header[44] = {'R', 'I', 'F', 'F', 0x26, 0x03, 0x03, 0x00, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ',
                                           0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x4b, 0x4c, 0x00, 0x00, 0x96, 0x98, 0x00, 0x00,
                                           0x02, 0x00, 0x10, 0x00, 'd', 'a', 't', 'a', 0x02, 0x03, 0x03, 0x00};
  // Sized once and filled (an insert after the text made GCC 12 warn of a copy past the end).
  std::vector<std::uint8_t> dictionary(text.size() + sizeof(wav_header));
  std::copy(text.begin(), text.end(), dictionary.begin());
  std::copy(std::begin(wav_header), std::end(wav_header), dictionary.begin() + static_cast<std::ptrdiff_t>(text.size()));
  return dictionary;
}

}  // namespace spikey::format
