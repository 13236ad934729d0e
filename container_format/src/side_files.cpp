// Side files' delta64 coding (SPEC.md §4.2): sample-number and timestamp arrays stored as
// differences of consecutive little-endian u64 words.
#include "spikey/format/archive.hpp"
#include "spikey/format/wire.hpp"

namespace spikey::format {

std::vector<std::uint8_t> delta64_encode(std::span<const std::uint8_t> file, std::uint64_t offset, std::uint64_t count) {
  std::vector<std::uint8_t> out(file.begin(), file.end());
  std::uint64_t previous = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t word = load_u64_le(file.data() + offset + 8 * i);
    store_u64_le(out.data() + offset + 8 * i, word - previous);
    previous = word;
  }
  return out;
}

std::vector<std::uint8_t> side_file_bytes(const SourceFile& source, std::span<const std::uint8_t> verbatim) {
  const auto stored = verbatim.subspan(source.prefix.offset, source.prefix.size);
  std::vector<std::uint8_t> out(stored.begin(), stored.end());
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < source.delta64_count; ++i) {
    sum += load_u64_le(out.data() + source.delta64_offset + 8 * i);
    store_u64_le(out.data() + source.delta64_offset + 8 * i, sum);
  }
  return out;
}

}  // namespace spikey::format
