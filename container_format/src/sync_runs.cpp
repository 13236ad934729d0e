#include "spikey/format/sync_runs.hpp"

#include <cstring>

#include "spikey/format/wire.hpp"
#include "spikey/format/codecs/common/zigzag.hpp"

namespace spikey::format {

namespace {
constexpr std::size_t kMaxFieldBytes = 5;  // each field is below 2^32
}

std::vector<std::uint8_t> encode_sync_runs(std::span<const std::int16_t> samples, std::size_t alignment) {
  std::vector<std::uint8_t> runs;
  std::uint64_t count = 0;
  std::int32_t previous = 0;
  for (std::size_t t = 0; t < samples.size(); ++count) {
    std::size_t end = t + 1;
    while (end < samples.size() && samples[end] == samples[t]) ++end;
    put_leb128(runs, zigzag_encode(std::int32_t{samples[t]} - previous));
    put_leb128(runs, end - t - 1);
    previous = samples[t];
    t = end;
  }
  std::vector<std::uint8_t> out;
  put_leb128(out, count);
  out.insert(out.end(), runs.begin(), runs.end());
  while (out.size() % alignment != 0) out.push_back(0);
  return out;
}

bool decode_sync_runs(std::span<const std::uint8_t> stream, std::size_t alignment, std::span<std::int16_t> out) {
  std::size_t position = 0, t = 0;
  std::int32_t previous = 0;
  std::uint64_t count = 0;
  if (!read_leb128(stream, &position, kMaxFieldBytes, &count) || count > out.size()) return false;
  for (; count > 0; --count) {
    std::uint64_t folded = 0, extra = 0;
    if (!read_leb128(stream, &position, kMaxFieldBytes, &folded) || !read_leb128(stream, &position, kMaxFieldBytes, &extra)) return false;
    if (folded > 0xffffffffu) return false;
    const std::int64_t value = std::int64_t{previous} + zigzag_decode(static_cast<std::uint32_t>(folded));
    if (value < INT16_MIN || value > INT16_MAX || extra >= out.size() - t) return false;
    for (std::uint64_t i = 0; i <= extra; ++i) out[t++] = static_cast<std::int16_t>(value);
    previous = static_cast<std::int32_t>(value);
  }
  if (t != out.size()) return false;
  const std::size_t padding = stream.size() - position;
  if (stream.size() % alignment != 0 || padding >= alignment) return false;
  for (; position < stream.size(); ++position)
    if (stream[position] != 0) return false;
  return true;
}

std::vector<std::uint32_t> sync_runs_words(const std::vector<std::uint8_t>& aligned_stream) {
  std::vector<std::uint32_t> words(aligned_stream.size() / 4);
  for (std::size_t i = 0; i < words.size(); ++i) words[i] = load_u32_le(aligned_stream.data() + 4 * i);
  return words;
}

}  // namespace spikey::format
